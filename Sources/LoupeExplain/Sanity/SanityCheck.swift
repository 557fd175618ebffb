import Foundation
import LoupeGraph
import LoupeTensor

/// The model-parameter randomisation test of Adebayo et al., "Sanity Checks for Saliency Maps"
/// (NeurIPS 2018): a method whose map hardly changes when the model's weights are replaced by
/// random ones does not explain the model. The layers are randomised cumulatively from the
/// output toward the input (`ModelRandomization`); after each step the method is rerun through
/// `Method.run(on:input:options:)`, for the class the original model predicts (or
/// `options.target`), and its map compared with the original one (`Similarity`).
///
/// Maps at a layer's resolution (`MapKind.classMap`) are first upsampled to the input's size
/// (bilinear, half-pixel centres), as they are drawn. The method fails when one of the four
/// similarities is still above `threshold` once every layer is randomised.
public enum SanityCheck {
    public static let threshold = 0.5

    public struct Step: Sendable {
        /// The layer reached: the last one randomised in this step.
        public var layer: ModelRandomization.Layer
        public var scores: Similarity.Scores
    }

    public struct Result: Sendable {
        public var method: Method
        public var target: Int
        public var seed: UInt64
        public var steps: [Step]
        /// The similarities above `threshold` after the last step (empty: the method passes).
        public var failing: [String] {
            guard let last = steps.last else { return [] }
            return zip(Similarity.Scores.names, last.scores.values).filter { $0.1 > threshold }.map(\.0)
        }
        public var passes: Bool { failing.isEmpty }
    }

    public static func run(_ method: Method, model: ExplainableModel, input x: Tensor, options: Method.Options,
                           seed: UInt64, progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> Result {
        let randomization = try ModelRandomization(graph: model.graph, seed: seed)
        guard !randomization.layers.isEmpty else {
            throw LoupeError(.invalidArgument, "the model has no Conv, Gemm or MatMul layer with constant weights to randomise")
        }
        var options = options
        if options.target == nil {
            let (logits, _) = try model.forward(x)
            options.target = logits.indices.max { logits[$0] < logits[$1] }!
        }
        let original = try comparable(try method.run(on: model, input: x, options: options), size: inputSize(x))
        var steps: [Step] = []
        for (k, layer) in randomization.layers.enumerated() {
            let m = try ExplainableModel(graph: randomization.graph(randomizedThrough: k + 1))
            steps.append(Step(layer: layer, scores: try compare(original, method: method, on: m, input: x, options: options, blame: { _ in layer })))
            progress?(k + 1, randomization.layers.count)
        }
        return Result(method: method, target: options.target!, seed: seed, steps: steps)
    }

    /// The method's map on the randomised model `m` against `original` (already `comparable`).
    /// A non-finite score or map is an error naming the layer `blame` returns for it (`true`:
    /// the map is the non-finite one).
    static func compare(_ original: Tensor, method: Method, on m: ExplainableModel, input x: Tensor, options: Method.Options,
                        blame: (Bool) throws -> ModelRandomization.Layer) throws -> Similarity.Scores {
        let inputSize = (x.shape[x.rank - 2], x.shape[x.rank - 1])
        let (logits, _) = try m.forward(x)
        guard logits.allSatisfy(\.isFinite) else {
            let layer = try blame(false)
            throw LoupeError(.invalidModel, "randomising layer '\(layer.node)' (\(layer.opType)) made the class scores non-finite (NaN or infinite)")
        }
        let map = try comparable(try method.run(on: m, input: x, options: options), size: inputSize)
        guard map.floats.allSatisfy(\.isFinite) else {
            let layer = try blame(true)
            throw LoupeError(.invalidModel, "randomising layer '\(layer.node)' (\(layer.opType)) made the \(method.rawValue) map non-finite (NaN or infinite)")
        }
        return try Similarity.compare(original, map)
    }

    static func inputSize(_ x: Tensor) -> (Int, Int) { (x.shape[x.rank - 2], x.shape[x.rank - 1]) }

    /// The map as `Similarity` takes it: C×H×W or H×W, class maps upsampled to the input size.
    static func comparable(_ e: Explanation, size: (Int, Int)) throws -> Tensor {
        var m = e.map
        while m.rank > 3 && m.shape[0] == 1 { m = Tensor(shape: Array(m.shape.dropFirst()), floats: m.floats) }
        guard m.rank == 2 || m.rank == 3 else { throw LoupeError.shape("\(e.method.rawValue) gave a map of shape \(describe(m.shape)); expected C×H×W or H×W") }
        let (H, W) = size
        let h = m.shape[m.rank - 2], w = m.shape[m.rank - 1]
        guard e.kind == .classMap || e.kind == .featureMaps, (h, w) != (H, W) else { return m }
        let c = m.rank == 3 ? m.shape[0] : 1
        var out: [Float] = []
        for k in 0..<c {
            out += Bilinear.resampleNaive(Array(m.floats[(k * h * w)..<((k + 1) * h * w)]), height: h, width: w, channels: 1, toHeight: H, width: W)
        }
        return Tensor(shape: m.rank == 3 ? [c, H, W] : [H, W], floats: out)
    }
}
