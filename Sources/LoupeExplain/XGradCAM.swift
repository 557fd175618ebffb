import LoupeGraph
import LoupeTensor

/// XGrad-CAM. Fu, Hu, Dong, Guo, Gao and Li, "Axiom-based Grad-CAM: Towards Accurate
/// Visualization and Explanation of CNNs", BMVC 2020.
///
/// With A the layer's output [1, K, h, w] and g = ∂s_c/∂A, the channel weight is
/// w_k = Σ_ij g_kij A_kij / (Σ_ij A_kij + 1e-7) (pytorch-grad-cam's `XGradCAM`, its ε
/// included) and the map ReLU(Σ_k w_k A_k), h×w at the layer's resolution, unnormalised.
public enum XGradCAM {
    public static func explain(_ model: ExplainableModel, _ x: Tensor, _ request: GradientRequest,
                               layer: String? = nil) throws -> Explanation {
        let l = try CAMFamily.layerGradients(model, x, request, layer: layer)
        let weights = CAMFamily.weightsFromGradients(l.activations, l.gradients) { ak, gk in
            var sumA = 0.0, sumGA = 0.0
            for i in 0..<ak.count {
                sumA += Double(ak[i])
                sumGA += Double(gk[i]) * Double(ak[i])
            }
            return sumGA / (sumA + 1e-7)
        }
        return Explanation(method: .xGradCAM, map: CAMFamily.weightedMap(l.activations, weights: weights),
                           target: l.target, layer: l.node)
    }
}
