import LoupeTensor

/// How ReLU-like operators pass gradients backward (Springenberg et al. 2015, fig. 1).
///
/// With `g` the incoming gradient and `x` the forward input of a ReLU:
/// - `standard`: g · [x > 0], the true gradient;
/// - `deconvnet` (Zeiler and Fergus 2014): max(g, 0), ignoring the forward mask;
/// - `guided` (guided backpropagation): max(g, 0) · [x > 0], both masks;
/// - `redirected` (Lucid's `redirected_relu_grad`, lucid/optvis/redirected_relu_grad.py, for
///   feature visualisation of units that do not activate): the true gradient when any of it
///   reaches the ReLU's input, otherwise g · [x > 0 or g > 0]: where nothing passes, the
///   gradient still flows towards raising the input, never towards lowering an inactive one.
///   The whole-tensor check is made per tensor (Loupe visualises one image at a time);
///   `reluGradient` gives the element-wise fallback.
///
/// Every ReLU in the graph follows the rule, whatever form the exporter gave it: `Relu`,
/// and `Clip` with min 0 (ReLU6: the upper clamp keeps its true mask `x < max` under every
/// rule). `LeakyRelu` and `PRelu` are ReLU-like too: under `deconvnet` and `guided` their
/// negative side is treated as the ReLU's zero side. Captum swaps only `nn.ReLU` modules,
/// so on a graph with ReLU6, LeakyReLU or PReLU Loupe's deconvnet and guided maps differ
/// from Captum's by design (docs/explanations.md).
public enum ReluRule: String, Sendable, CaseIterable {
    case standard, deconvnet, guided, redirected
}

/// Settings of one backward pass.
public struct BackwardRules: Sendable {
    public var relu: ReluRule
    public init(relu: ReluRule = .standard) { self.relu = relu }
    public static let standard = BackwardRules()
}

/// Applies the ReLU rule to the incoming gradient `g`, where `active` says whether the
/// forward input was on the ReLU's passing side.
@inline(__always)
public func reluGradient(_ g: Float, active: Bool, _ rule: ReluRule) -> Float {
    switch rule {
    case .standard: return active ? g : 0
    case .deconvnet: return max(g, 0)
    case .guided: return active && g > 0 ? g : 0
    case .redirected: return active || g > 0 ? g : 0
    }
}
