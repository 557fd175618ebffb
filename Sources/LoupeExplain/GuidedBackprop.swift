import LoupeGraph
import LoupeTensor

/// Guided backpropagation. Springenberg, Dosovitskiy, Brox and Riedmiller, "Striving for
/// Simplicity: The All Convolutional Net", ICLR workshop 2015: the input gradient where every
/// ReLU passes only positive gradient, and only where its forward input was positive.
///
/// Input: one image [1, C, H, W]. Output: the signed C×H×W map (Captum's `GuidedBackprop`).
public enum GuidedBackprop {
    public static func explain(_ model: ExplainableModel, _ x: Tensor, _ request: GradientRequest) throws -> Explanation {
        let (g, target) = try model.inputGradient(x, request, rule: .guided)
        return Explanation(method: .guidedBackprop, map: g, target: target)
    }
}
