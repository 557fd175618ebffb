import LoupeGraph
import LoupeTensor

/// Grad-CAM. Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
/// Gradient-based Localization", ICCV 2017.
///
/// With A the layer's output [1, K, h, w] and α_k the spatial mean of ∂s_c/∂A_k, the map is
/// ReLU(Σ_k α_k A_k), h×w at the layer's own resolution, not normalised (pytorch-grad-cam's
/// `GradCAM` before its scaling and resizing; Captum's `LayerGradCam` with
/// `relu_attributions=True`). High values: regions of the layer whose activation raises the
/// class score.
public enum GradCAM {
    public static func explain(_ model: ExplainableModel, _ x: Tensor, _ request: GradientRequest,
                               layer: String? = nil) throws -> Explanation {
        let l = try CAMFamily.layerGradients(model, x, request, layer: layer)
        return Explanation(method: .gradCAM, map: camMap(activations: l.activations, gradients: l.gradients),
                           target: l.target, layer: l.node)
    }

    /// ReLU(Σ_k mean(g_k) · a_k) for a, g of shape [K, h, w]; returns [h, w].
    static func camMap(activations a: Tensor, gradients g: Tensor) -> Tensor {
        let weights = CAMFamily.weightsFromGradients(a, g) { _, gk in
            var s = 0.0
            for v in gk { s += Double(v) }
            return s / Double(gk.count)
        }
        return CAMFamily.weightedMap(a, weights: weights)
    }
}
