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
