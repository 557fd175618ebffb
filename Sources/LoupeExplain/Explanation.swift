import LoupeGraph
import LoupeTensor

/// The explanation methods, named as on the command line.
public enum Method: String, Sendable, CaseIterable {
    case saliency
    case deconvnet
    case guidedBackprop = "guided-backprop"
    case cam
    case gradCAM = "grad-cam"
    case guidedGradCAM = "guided-grad-cam"
    case occlusion
    case activations

    /// One line for legends and reports.
    public var summary: String {
        switch self {
        case .saliency: "Absolute input gradient of the class score (Simonyan et al. 2014), maximum over channels."
        case .deconvnet: "Input gradient with the deconvnet ReLU rule: only positive gradients pass (Zeiler & Fergus 2014)."
        case .guidedBackprop: "Input gradient passing only positive gradients through active ReLUs (Springenberg et al. 2015)."
        case .cam: "Class activation map: last conv features weighted by the final linear layer (Zhou et al. 2016)."
        case .gradCAM: "Layer features weighted by their spatially averaged gradients, then ReLU (Selvaraju et al. 2017)."
        case .guidedGradCAM: "Guided backpropagation times the upsampled Grad-CAM map (Selvaraju et al. 2017)."
        case .occlusion: "Drop of the class score when a sliding window is replaced by a baseline (Zeiler & Fergus 2014)."
        case .activations: "A layer's feature maps, thresholded at a quantile of each channel's values."
        }
    }
}

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
