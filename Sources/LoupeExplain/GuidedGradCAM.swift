import LoupeGraph
import LoupeTensor

/// Guided Grad-CAM. Selvaraju et al., ICCV 2017, section 3.1: guided backpropagation
/// multiplied element-wise by the Grad-CAM map upsampled to the input size.
///
/// Input: one image [1, C, H, W]. Output: C×H×W. The Grad-CAM map is upsampled bilinearly
/// with half-pixel centres (align_corners = false); Captum's `GuidedGradCam` defaults to
/// nearest upsampling, which is where the two differ (docs/explanations.md).
public enum GuidedGradCAM {
    public static func explain(_ model: ExplainableModel, _ x: Tensor, _ request: GradientRequest,
                               layer: String? = nil) throws -> Explanation {
        let cam = try GradCAM.explain(model, x, request, layer: layer)
        // Use the class Grad-CAM chose, so both factors explain the same target.
        let fixed = GradientRequest(target: cam.target, score: request.score)
        let (guided, _) = try model.inputGradient(x, fixed, rule: .guided)
        let (c, h, w) = (guided.shape[0], guided.shape[1], guided.shape[2])
        let up = resizeBilinear(cam.map.floats, h: cam.map.shape[0], w: cam.map.shape[1], toHeight: h, width: w)
        var out = guided.floats
        for ch in 0..<c { for i in 0..<(h * w) { out[ch * h * w + i] *= up[i] } }
        return Explanation(method: .guidedGradCAM, map: Tensor(shape: [c, h, w], floats: out), target: cam.target, layer: cam.layer)
    }
}
