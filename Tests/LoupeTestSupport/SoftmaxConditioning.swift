import LoupeGraph
import LoupeTensor

/// Comparing a graph's Softmax output at the point where the comparison is well conditioned.
///
/// A float32 logit carries a rounding error of roughly 1e-6 of the largest logit's
/// magnitude (summation order, which differs between BLAS kernel families). The softmax
/// passes that error on unscaled: with logits near 1e10 (the ONNX "light" models, whose
/// generated weights make them degenerate) two correct float32 runs give probabilities that
/// differ by 0.25. There the logits are compared instead, relative to their scale, with the
/// float64 evaluation of the same graph.
public enum SoftmaxConditioning {
    /// Relative rounding of a float32 logit assumed by `isReproducible`.
    public static let logitRounding = 1e-6

    /// The input of the Softmax that produces `output` (possibly through value-preserving
    /// ops such as the Flatten/Reshape an opset rewrite puts around it), if one does.
    public static func softmaxInput(of output: String, in graph: Graph) -> String? {
        var g = graph
        g.outputs = graph.outputs.filter { $0.name == output }
        guard let scores = try? ClassScores(g), scores.softmax?.opType == "Softmax" else { return nil }
        return scores.logits
    }

    /// Whether a float32 softmax over these logits is reproducible to `tolerance`.
    public static func isReproducible(logits: Tensor, tolerance: Double) -> Bool {
        let scale = logits.floats.reduce(0) { max($0, abs(Double($1))) }
        return scale * logitRounding <= tolerance
    }

    /// The executor's float32 value of `tensor` against the float64 evaluation's: the largest
    /// |float32 − float64| over the largest |float64|.
    public static func relativeErrorAgainstFloat64(_ graph: Graph, feeds: [String: Tensor], tensor: String,
                                                   float32 got: Tensor) throws -> Double {
        let f64 = try Float64Evaluator(graph: graph, inputShapes: feeds.mapValues(\.shape), keep: [tensor])
        let values = try f64.forward(feeds.mapValues { Float64Tensor($0) })
        guard let want = values[tensor], want.shape == got.shape else {
            throw LoupeError.shape("float64 value of '\(tensor)' missing or of another shape than \(describe(got.shape))")
        }
        let scale = want.data.reduce(0) { max($0, abs($1)) }
        let err = zip(got.floats, want.data).reduce(0) { max($0, abs(Double($1.0) - $1.1)) }
        return scale > 0 ? err / scale : err
    }
}
