import LoupeGraph
import LoupeTensor

/// Vanilla gradient saliency. Simonyan, Vedaldi and Zisserman, "Deep Inside Convolutional
/// Networks: Visualising Image Classification Models and Saliency Maps", ICLR workshop 2014.
///
/// Input: one image [1, C, H, W]. Output: |∂s_c/∂x| as C×H×W (Captum's `Saliency` with
/// `abs=True`); the picture shows its maximum over channels. Large values mark pixels whose
/// small changes move the class score most.
public enum Saliency {
    public static func explain(_ model: ExplainableModel, _ x: Tensor, _ request: GradientRequest) throws -> Explanation {
        let (g, target) = try model.inputGradient(x, request, rule: .standard)
        return Explanation(method: .saliency, map: try mapFloat(g) { abs($0) }, target: target)
    }
}
