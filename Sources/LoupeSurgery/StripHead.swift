import LoupeGraph
import LoupeTensor

/// Removing a classifier's head: the last fully connected layer (Gemm, or MatMul with
/// constant 2-D weights and its bias Add) and whatever follows it (Softmax, ...). The graph's
/// output becomes that layer's input, the penultimate feature vector `[N, K]`.
public enum StripHead {
    /// The last fully connected layer, in topological order, among the layers the outputs
    /// depend on.
    public static func lastLinearLayer(_ graph: Graph) throws -> Node {
        var g = graph
        try g.sortTopologically()
        g.eliminateDeadNodes()
        let linear = g.nodes.last { n in
            switch n.opType {
            case "Gemm": return true
            case "MatMul": return n.inputs.count == 2 && g.initializers[n.inputs[1]]?.rank == 2
            default: return false
            }
        }
        guard let linear else {
            let ops = Set(g.nodes.map(\.opType)).sorted().joined(separator: ", ")
            throw LoupeError(.invalidArgument, "the model has no fully connected layer (Gemm, or MatMul with constant 2-D weights) to strip; its layers are \(ops). Use `at` NAME to cut after a named layer")
        }
        return linear
    }

    /// The penultimate feature tensor: the input of the last fully connected layer, which
    /// `apply` makes the graph's output.
    public static func featureTensor(_ graph: Graph) throws -> String {
        try lastLinearLayer(graph).inputs[0]
    }

    /// The graph with its last fully connected layer and everything after it removed.
    public static func apply(_ graph: Graph) throws -> Graph {
        let fc = try lastLinearLayer(graph)
        do {
            return try Cut.apply(graph, at: fc.inputs[0])
        } catch let e as LoupeError {
            throw e.context("stripping \(fc.label)")
        }
    }
}
