import LoupeGraph
import LoupeTensor

/// HiResCAM. Draelos and Carin, "Use HiResCAM instead of Grad-CAM for faithful explanations
/// of convolutional neural networks", arXiv:2011.08891, 2020.
///
/// With A the layer's output [1, K, h, w] and g = ∂s_c/∂A, the map is ReLU(Σ_k g_k ⊙ A_k):
/// the gradient multiplies the activation element by element instead of being averaged over
/// the plane first (pytorch-grad-cam's `HiResCAM`). h×w at the layer's resolution,
/// unnormalised. For a layer followed only by global average pooling and a linear layer it
/// equals Grad-CAM.
public enum HiResCAM {
    public static func explain(_ model: ExplainableModel, _ x: Tensor, _ request: GradientRequest,
                               layer: String? = nil) throws -> Explanation {
        let l = try CAMFamily.layerGradients(model, x, request, layer: layer)
        return Explanation(method: .hiResCAM, map: CAMFamily.elementwiseMap(l.activations, l.gradients) { $0 },
                           target: l.target, layer: l.node)
    }
}
