import LoupeGraph
import LoupeTensor

/// Deconvnet. Zeiler and Fergus, "Visualizing and Understanding Convolutional Networks",
/// ECCV 2014, in its gradient form (Springenberg et al. 2015): the input gradient where every
/// ReLU passes only positive incoming gradient, ignoring its forward mask.
///
/// Input: one image [1, C, H, W]. Output: the signed C×H×W map (Captum's `Deconvolution`).
public enum Deconvnet {
    public static func explain(_ model: ExplainableModel, _ x: Tensor, _ request: GradientRequest) throws -> Explanation {
        let (g, target) = try model.inputGradient(x, request, rule: .deconvnet)
        return Explanation(method: .deconvnet, map: g, target: target)
    }
}
