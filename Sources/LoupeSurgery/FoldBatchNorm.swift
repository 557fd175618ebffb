import LoupeGraph
import LoupeTensor

/// Folding inference-mode BatchNormalization into the Conv or Gemm before it, as a rewrite of
/// the user's graph. The arithmetic and the conditions are `Graph.foldBatchNormalizations`
/// (LoupeGraph/Passes/BatchNormFolding.swift), which inference plans also apply to their own
/// copy of the graph.
public enum FoldBatchNorm {
    /// The rewritten graph and the names of the BN nodes folded.
    public static func apply(_ graph: Graph) throws -> (graph: Graph, folded: [String]) {
        var g = graph
        try g.sortTopologically()
        // Weights computed by constant subgraphs (ConstantOfShape, Constant, ...) become
        // initializers first, so that they can be folded.
        let needsFolding = g.nodes.contains { n in
            n.opType == "BatchNormalization" && n.inputs.dropFirst().contains { !$0.isEmpty && g.initializers[$0] == nil }
        }
        if needsFolding { try g.foldConstants() }
        let folded = try g.foldBatchNormalizations()
        g.eliminateDeadNodes()
        try g.validate()
        return (g, folded)
    }
}
