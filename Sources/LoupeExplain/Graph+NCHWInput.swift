import LoupeGraph

extension Graph {
    /// The graph with an NHWC image input (`[N, H, W, C]`, C = 1 or 3, as Keras models
    /// declare it) replaced by an NCHW input of the same name feeding a Transpose back to
    /// NHWC. The explanation techniques work on NCHW inputs; other graphs come back unchanged.
    public func withNCHWImageInput() -> Graph {
        guard inputs.count == 1, let d = inputs[0].dims, d.count == 4, let c = d[3].value, c == 1 || c == 3,
              d[1].value != 1 && d[1].value != 3 else { return self }
        var g = self
        let name = inputs[0].name
        let taken = Set(nodes.flatMap { $0.outputs + [$0.name] }).union(initializers.keys)
        var inner = "\(name)/nhwc"
        while taken.contains(inner) { inner += "_" }
        for i in g.nodes.indices {
            g.nodes[i].inputs = g.nodes[i].inputs.map { $0 == name ? inner : $0 }
        }
        for i in g.outputs.indices where g.outputs[i].name == name { g.outputs[i].name = inner }
        g.inputs[0].dims = [d[0], d[3], d[1], d[2]]
        g.nodes.insert(Node(name: inner, opType: "Transpose", inputs: [name], outputs: [inner],
                            attributes: ["perm": .ints([0, 2, 3, 1])]), at: 0)
        return g
    }
}
