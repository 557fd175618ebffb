import LoupeGraph
import LoupeTensor

/// One method's result for one image.
public struct Explanation: Sendable {
    public var method: Method
    /// The map, in the shape the method's file documents (what `--save-npy` writes).
    public var map: Tensor
    public var target: Int
    /// The node whose output the method read, for layer methods.
    public var layer: String?
    /// For Integrated Gradients: how well the attributions add up to the score difference.
    public var completeness: Completeness?
    /// The noise tunnel that smoothed the map, if any.
    public var noiseTunnel: NoiseTunnel.Settings?
    /// What the map holds, when it differs from `method.mapKind` (a squared or variance
    /// noise tunnel makes a signed gradient non-negative).
    public var mapKindOverride: MapKind?

    /// What the map holds; pictures and legends are drawn by it.
    public var kind: MapKind { mapKindOverride ?? method.mapKind }

    /// "Integrated gradients", or "VarGrad (guided backprop)" under a noise tunnel.
    public var title: String { noiseTunnel.map { "\($0.kind.title) (\(method.title.lowercased()))" } ?? method.title }
}

/// Completeness (Sundararajan et al. 2017, axiom "completeness"): the attributions of
/// Integrated Gradients add up to s_c(x) − s_c(x′). `error` is Captum's convergence delta,
/// Σ attributions − (s_c(x) − s_c(x′)), in float64 over the float32 map.
public struct Completeness: Sendable, Encodable {
    public var attributionSum: Double
    public var scoreInput: Double
    public var scoreBaseline: Double
    public var scoreDifference: Double { scoreInput - scoreBaseline }
    public var error: Double { attributionSum - scoreDifference }
    /// |error| / |s_c(x) − s_c(x′)| (infinite when the difference is 0 and the error is not).
    public var relativeError: Double { scoreDifference == 0 ? (error == 0 ? 0 : .infinity) : abs(error / scoreDifference) }

    enum CodingKeys: String, CodingKey {
        case attributionSum = "attribution_sum", scoreInput = "score_input", scoreBaseline = "score_baseline"
        case scoreDifference = "score_difference", error, relativeError = "relative_error"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(attributionSum, forKey: .attributionSum)
        try c.encode(scoreInput, forKey: .scoreInput)
        try c.encode(scoreBaseline, forKey: .scoreBaseline)
        try c.encode(scoreDifference, forKey: .scoreDifference)
        try c.encode(error, forKey: .error)
        if relativeError.isFinite { try c.encode(relativeError, forKey: .relativeError) }
    }
}

/// Common inputs of the gradient methods.
public struct GradientRequest: Sendable {
    public var target: Int?
    public var score: ExplainableModel.ScoreKind
    public init(target: Int? = nil, score: ExplainableModel.ScoreKind = .logit) {
        self.target = target
        self.score = score
    }
}

extension ExplainableModel {
    /// The class to explain and the seed for the logits: the requested target, or the top class.
    func seed(for request: GradientRequest, chosen: TargetBox) -> (Tensor) throws -> Tensor {
        { logits in
            let k = logits.shape.last ?? 0
            let row = Array(logits.floats[0..<k])
            let t = request.target ?? row.indices.max { row[$0] < row[$1] }!
            guard t >= 0, t < k else {
                throw LoupeError(.invalidArgument, "target \(t) is out of range: the model has \(k) classes (0 to \(k - 1))")
            }
            chosen.value = t
            return try self.seed(logits: logits, target: t, score: request.score)
        }
    }

    /// ∂s_c/∂x for batch item 0 under `rule`, as C×H×W, plus the target used.
    public func inputGradient(_ x: Tensor, _ request: GradientRequest, rule: ReluRule) throws -> (Tensor, Int) {
        let target = TargetBox()
        let r = try executor.gradients(feeds: [inputName: x], output: logitsName, seed: seed(for: request, chosen: target),
                                       wrt: [inputName], rules: BackwardRules(relu: rule))
        let g = r.gradients[inputName]!
        return (try firstItem(g), target.value)
    }
}

extension ExplainableModel {
    /// Whether the graph takes a batch: its input's first dimension is not fixed to 1.
    public var takesBatches: Bool {
        graph.inputs[0].dims?.first.map { $0.value == nil || $0.value! > 1 } ?? true
    }

    /// ∂s_c/∂x for every item of a batch `xs` [B, C, H, W], all for class `target`, from one
    /// forward and one backward pass (each row of the logits gets its own seed, so the items
    /// do not mix). Returns the gradients [B, C, H, W] and the logits [B, classes].
    public func inputGradients(batch xs: Tensor, target: Int, score: ScoreKind, rule: ReluRule = .standard) throws -> (gradients: Tensor, logits: Tensor) {
        let r = try executor.gradients(feeds: [inputName: xs], output: logitsName, seed: { logits in
            try self.batchSeed(logits: logits, target: target, score: score)
        }, wrt: [inputName], rules: BackwardRules(relu: rule))
        return (r.gradients[inputName]!, r.values[logitsName]!)
    }

    /// `seed(logits:target:score:)` for every row of logits [B, classes].
    func batchSeed(logits: Tensor, target: Int, score: ScoreKind) throws -> Tensor {
        guard logits.rank == 2, let k = logits.shape.last, k > 0 else {
            throw LoupeError.shape("the class scores '\(logitsName)' have shape \(describe(logits.shape)); expected [N, classes]")
        }
        guard target >= 0, target < k else {
            throw LoupeError(.invalidArgument, "target \(target) is out of range: the model has \(k) classes (0 to \(k - 1))")
        }
        var g = [Float](repeating: 0, count: logits.count)
        for b in 0..<logits.shape[0] {
            let row = Tensor(shape: [1, k], floats: Array(logits.floats[(b * k)..<((b + 1) * k)]))
            let s = try seed(logits: row, target: target, score: score).floats
            for j in 0..<k { g[b * k + j] = s[j] }
        }
        return Tensor(shape: logits.shape, floats: g)
    }

    /// The score s_c of each row of logits [B, classes]: the logit or the softmax probability.
    static func scores(_ logits: Tensor, target: Int, kind: ScoreKind) -> [Double] {
        let k = logits.shape.last!
        return (0..<(logits.count / k)).map { b in
            let row = Array(logits.floats[(b * k)..<((b + 1) * k)])
            return kind == .logit ? Double(row[target]) : softmaxDouble(row)[target]
        }
    }
}

/// The class a seed closure picked (set during the backward pass).
final class TargetBox: @unchecked Sendable {
    var value = -1
}

/// Drops the batch dimension of item 0: [1, C, H, W] → [C, H, W].
func firstItem(_ t: Tensor) throws -> Tensor {
    guard t.rank >= 2 else { throw LoupeError.shape("expected a batched tensor, got \(describe(t.shape))") }
    let per = t.shape.dropFirst().reduce(1, *)
    return Tensor(shape: Array(t.shape.dropFirst()), floats: Array(t.floats[0..<per]))
}
