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
        let (node, tensor) = try model.resolveLayer(layer, for: x)
        let target = TargetBox()
        let r = try model.executor.gradients(feeds: [model.inputName: x], output: model.logitsName,
                                             seed: model.seed(for: request, chosen: target), wrt: [tensor])
        let a = try firstItem(r.values[tensor]!), g = try firstItem(r.gradients[tensor]!)
        return Explanation(method: .gradCAM, map: try camMap(activations: a, gradients: g), target: target.value, layer: node)
    }

    /// ReLU(Σ_k mean(g_k) · a_k) for a, g of shape [K, h, w]; returns [h, w].
    static func camMap(activations a: Tensor, gradients g: Tensor) throws -> Tensor {
        let (k, h, w) = (a.shape[0], a.shape[1], a.shape[2])
        let plane = h * w
        var out = [Float](repeating: 0, count: plane)
        a.floats.withUnsafeBufferPointer { pa in
            g.floats.withUnsafeBufferPointer { pg in
                for c in 0..<k {
                    var s: Double = 0
                    for i in 0..<plane { s += Double(pg[c * plane + i]) }
                    let alpha = Float(s / Double(plane))
                    for i in 0..<plane { out[i] += alpha * pa[c * plane + i] }
                }
            }
        }
        return Tensor(shape: [h, w], floats: out.map { max($0, 0) })
    }
}
