import LoupeGraph
import LoupeTensor

/// Cutting a graph after a tensor: that tensor becomes the only graph output, every node that
/// no longer reaches an output is dropped with the initializers only it read.
///
/// Shapes: a spatial map `[N, C, h, w]` is kept as it is, or pooled to `[N, C]` by global
/// average or max pooling followed by `Flatten(axis 1)`.
public enum Cut {
    public enum Pooling: String, Sendable, CaseIterable { case none, avg, max }

    /// The graph cut after `tensor` (a tensor name; see `Graph.resolveTensor`).
    public static func apply(_ graph: Graph, at tensor: String, pool: Pooling = .none) throws -> Graph {
        var g = graph
        try g.sortTopologically()
        guard g.producers()[tensor] != nil else {
            throw LoupeError(.invalidArgument, "no layer computes a tensor named '\(tensor)'")
        }
        var out = tensor
        if pool != .none {
            let types = try g.tensorTypes()
            guard let t = types[tensor], t.shape.count == 4 else {
                let shape = types[tensor].map { describe($0.shape) } ?? "unknown"
                throw LoupeError(.invalidArgument, "`pool` \(pool.rawValue) needs a spatial map [N, C, H, W] to pool; '\(tensor)' has shape \(shape)")
            }
            var taken = g.allNames
            let pooled = g.freshName(tensor + (pool == .avg ? "_gap" : "_gmp"), taken: taken); taken.insert(pooled)
            let flat = g.freshName(tensor + "_features", taken: taken); taken.insert(flat)
            let poolNode = g.freshName("surgery/" + (pool == .avg ? "GlobalAveragePool" : "GlobalMaxPool"), taken: taken); taken.insert(poolNode)
            let flatNode = g.freshName("surgery/Flatten", taken: taken)
            g.nodes.append(Node(name: poolNode, opType: pool == .avg ? "GlobalAveragePool" : "GlobalMaxPool",
                                inputs: [tensor], outputs: [pooled]))
            g.nodes.append(Node(name: flatNode, opType: "Flatten", inputs: [pooled], outputs: [flat],
                                attributes: ["axis": .int(1)]))
            out = flat
        }
        g.outputs = [ValueInfo(name: out, dtype: .float32, dims: nil)]
        g.eliminateDeadNodes()
        try g.requirePathsFromInputs("cutting after '\(tensor)'")
        g.outputs = try g.outputInfos([out])
        try g.validate()
        return g
    }
}
