import LoupeGraph
import LoupeTensor

extension Graph {
    /// The part of the graph that computes `output` from the tensor `name` given as an input
    /// (float32, any shape): the node that made `name` no longer does (its output is renamed),
    /// and it and whatever only it needed are dropped. The original inputs stay only
    /// when some path to `output` goes around `name` (a skip connection past the layer); the
    /// graph's one output is `output`. Ablation-CAM feeds altered activations this way.
    func fedAt(tensor name: String, output: String) -> Graph {
        var g = self
        let taken = Set(nodes.flatMap { $0.outputs + [$0.name] }).union(initializers.keys)
        var renamed = "\(name)/unused"
        while taken.contains(renamed) { renamed += "_" }
        for i in g.nodes.indices {
            g.nodes[i].outputs = g.nodes[i].outputs.map { $0 == name ? renamed : $0 }
        }
        // Which original inputs does `output` still need?
        var producer: [String: Int] = [:]
        for (i, n) in g.nodes.enumerated() { for o in n.outputs where !o.isEmpty { producer[o] = i } }
        var seen: Set<String> = [], stack = [output], reached: Set<String> = [], needed: Set<Int> = []
        while let t = stack.popLast() {
            guard seen.insert(t).inserted, t != name else { continue }
            if let i = producer[t] {
                needed.insert(i)
                stack.append(contentsOf: g.nodes[i].inputs.filter { !$0.isEmpty })
            } else {
                reached.insert(t)
            }
        }
        // Only the nodes on some path to `output` (shape inference must not meet the others,
        // whose inputs may be gone).
        g.nodes = g.nodes.indices.filter { needed.contains($0) }.map { g.nodes[$0] }
        g.inputs = g.inputs.filter { reached.contains($0.name) } + [ValueInfo(name: name, dtype: .float32, dims: nil)]
        g.outputs = [ValueInfo(name: output, dtype: .float32, dims: nil)]
        return g
    }
}
