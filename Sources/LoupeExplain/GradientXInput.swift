import LoupeGraph
import LoupeTensor

/// Gradient × input. Shrikumar, Greenside, Shcherbina and Kundaje, "Not Just a Black Box:
/// Learning Important Features Through Propagating Activation Differences", arXiv:1605.01713,
/// 2016: the input gradient of the class score multiplied elementwise by the input.
///
/// Input: one image [1, C, H, W]. Output: x ⊙ ∂s_c/∂x, the signed C×H×W map (Captum's
/// `InputXGradient`). It is Integrated Gradients' integrand at α = 1 times x − 0: for a
/// piecewise-linear model it is the first-order share of each input in s_c(x) − s_c(0).
public enum GradientXInput {
    public static func explain(_ model: ExplainableModel, _ x: Tensor, _ request: GradientRequest) throws -> Explanation {
        let (g, target) = try model.inputGradient(x, request, rule: .standard)
        let xs = x.floats, gs = g.floats
        let map = Tensor(shape: g.shape, floats: (0..<g.count).map { gs[$0] * xs[$0] })
        return Explanation(method: .gradientXInput, map: map, target: target)
    }
}
