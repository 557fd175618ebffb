import LoupeGraph
import LoupeTensor

/// Grad-CAM++. Chattopadhay, Sarkar, Howlader and Balasubramanian, "Grad-CAM++: Generalized
/// Gradient-Based Visual Explanations for Deep Convolutional Networks", WACV 2018.
///
/// With A the layer's output [1, K, h, w], g = ∂s_c/∂A and S_k = Σ_ij A_kij, the channel
/// weight is w_k = Σ_ij ReLU(g_kij) · α_kij with α_kij = g² / (2g² + S_k g³ + 1e-6) where
/// g ≠ 0 and 0 elsewhere: the paper's eq. 19 with the higher derivatives of exp(s_c) replaced
/// by powers of the first (pytorch-grad-cam's `GradCAMPlusPlus`, its ε = 1e-6 included). The
/// map is ReLU(Σ_k w_k A_k), h×w at the layer's resolution, unnormalised.
public enum GradCAMPlusPlus {
    public static func explain(_ model: ExplainableModel, _ x: Tensor, _ request: GradientRequest,
                               layer: String? = nil) throws -> Explanation {
        let l = try CAMFamily.layerGradients(model, x, request, layer: layer)
        let weights = CAMFamily.weightsFromGradients(l.activations, l.gradients) { ak, gk in
            var sumA = 0.0
            for v in ak { sumA += Double(v) }
            var w = 0.0
            for v in gk where v > 0 {
                let g = Double(v), g2 = g * g
                w += g * g2 / (2 * g2 + sumA * g2 * g + 1e-6)
            }
            return w
        }
        return Explanation(method: .gradCAMPlusPlus, map: CAMFamily.weightedMap(l.activations, weights: weights),
                           target: l.target, layer: l.node)
    }
}
