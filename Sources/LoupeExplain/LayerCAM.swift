import LoupeGraph
import LoupeTensor

/// LayerCAM. Jiang, Zhang, Hou, Cheng and Wei, "LayerCAM: Exploring Hierarchical Class
/// Activation Maps for Localization", IEEE Transactions on Image Processing 30, 2021.
///
/// With A the layer's output [1, K, h, w] and g = ∂s_c/∂A, the map is
/// ReLU(Σ_k ReLU(g_k) ⊙ A_k): each position weighted by its own positive gradient, which keeps
/// the fine detail of early layers (pytorch-grad-cam's `LayerCAM`). h×w at the layer's
/// resolution, unnormalised.
public enum LayerCAM {
    public static func explain(_ model: ExplainableModel, _ x: Tensor, _ request: GradientRequest,
                               layer: String? = nil) throws -> Explanation {
        let l = try CAMFamily.layerGradients(model, x, request, layer: layer)
        return Explanation(method: .layerCAM, map: CAMFamily.elementwiseMap(l.activations, l.gradients) { max($0, 0) },
                           target: l.target, layer: l.node)
    }
}
