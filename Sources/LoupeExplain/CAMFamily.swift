import Foundation
import LoupeGraph
import LoupeTensor

/// What the class-activation-map methods share (Grad-CAM, Grad-CAM++, XGrad-CAM, HiResCAM,
/// LayerCAM, Score-CAM, Ablation-CAM, EigenCAM), with pytorch-grad-cam's conventions
/// (`BaseCAM`): a layer's activations A [K, h, w] (and for the gradient methods ∂s_c/∂A),
/// a map M [h, w] at the layer's resolution, either Σ_k w_k A_k with one weight per channel
/// (`weightedMap`) or Σ_k f(∂s_c/∂A_k) ⊙ A_k element by element (`elementwiseMap`), then a
/// ReLU. That raw map is what `Explanation.map` holds; `displayed` is pytorch-grad-cam's
/// picture of it (min–max scaled, resized to the input, scaled again).
public enum CAMFamily {
    /// One layer of item 0 after one forward and backward pass: A and ∂s_c/∂A, [K, h, w] each.
    struct LayerGradients {
        var node: String
        var activations: Tensor
        var gradients: Tensor
        var target: Int
    }

    /// Runs the model forward and backward from the target score and returns the layer's
    /// activations and gradients (`layer`: as `ExplainableModel.resolveLayer` takes it).
    static func layerGradients(_ model: ExplainableModel, _ x: Tensor, _ request: GradientRequest,
                               layer: String?) throws -> LayerGradients {
        let (node, tensor) = try model.resolveLayer(layer, for: x)
        let target = TargetBox()
        let r = try model.executor.gradients(feeds: [model.inputName: x], output: model.logitsName,
                                             seed: model.seed(for: request, chosen: target), wrt: [tensor])
        return LayerGradients(node: node, activations: try firstItem(r.values[tensor]!),
                              gradients: try firstItem(r.gradients[tensor]!), target: target.value)
    }

    /// One weight per channel from the activations and gradients: `rule(a_k, g_k)` receives
    /// channel k's h·w values of each and returns w_k (computed in Double).
    static func weightsFromGradients(_ a: Tensor, _ g: Tensor,
                                     rule: (UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>) -> Double) -> [Double] {
        let (k, plane) = (a.shape[0], a.shape[1] * a.shape[2])
        return a.floats.withUnsafeBufferPointer { pa in
            g.floats.withUnsafeBufferPointer { pg in
                (0..<k).map { c in
                    rule(UnsafeBufferPointer(rebasing: pa[(c * plane)..<((c + 1) * plane)]),
                         UnsafeBufferPointer(rebasing: pg[(c * plane)..<((c + 1) * plane)]))
                }
            }
        }
    }

    /// ReLU(Σ_k w_k A_k) for A [K, h, w] and K weights; returns [h, w].
    static func weightedMap(_ a: Tensor, weights: [Double]) -> Tensor {
        let (k, h, w) = (a.shape[0], a.shape[1], a.shape[2])
        precondition(weights.count == k, "weightedMap: \(weights.count) weights for \(k) channels")
        let plane = h * w
        var out = [Double](repeating: 0, count: plane)
        a.floats.withUnsafeBufferPointer { pa in
            for c in 0..<k where weights[c] != 0 {
                let wc = weights[c]
                for i in 0..<plane { out[i] += wc * Double(pa[c * plane + i]) }
            }
        }
        return Tensor(shape: [h, w], floats: out.map { Float(max($0, 0)) })
    }

    /// ReLU(Σ_k f(∂s/∂A_k) ⊙ A_k) element by element, for A and ∂s/∂A [K, h, w]; returns [h, w].
    static func elementwiseMap(_ a: Tensor, _ g: Tensor, gradient f: (Float) -> Float) -> Tensor {
        let (k, h, w) = (a.shape[0], a.shape[1], a.shape[2])
        let plane = h * w
        var out = [Double](repeating: 0, count: plane)
        a.floats.withUnsafeBufferPointer { pa in
            g.floats.withUnsafeBufferPointer { pg in
                for c in 0..<k {
                    for i in 0..<plane { out[i] += Double(f(pg[c * plane + i])) * Double(pa[c * plane + i]) }
                }
            }
        }
        return Tensor(shape: [h, w], floats: out.map { Float(max($0, 0)) })
    }

    /// The displayed map, as pytorch-grad-cam makes it from a raw map (`BaseCAM.
    /// compute_cam_per_layer` and `aggregate_multi_layers` for one layer): ReLU, min–max scaling
    /// (m − min) / (max − min + 1e-7), bilinear resize to `height`×`width` with half-pixel centres
    /// (OpenCV's `INTER_LINEAR`), ReLU, and the same scaling again. Values in [0, 1).
    public static func displayed(_ raw: Tensor, height: Int, width: Int) throws -> Tensor {
        guard raw.rank == 2, raw.count > 0, height > 0, width > 0 else {
            throw LoupeError.shape("a CAM map must be h×w, got \(describe(raw.shape))")
        }
        func scale(_ v: [Float]) -> [Float] {
            let lo = v.min()!, hi = v.max()!
            return v.map { ($0 - lo) / (1e-7 + (hi - lo)) }
        }
        let first = scale(raw.floats.map { max($0, 0) })
        let up = resizeBilinear(first, h: raw.shape[0], w: raw.shape[1], toHeight: height, width: width)
        return Tensor(shape: [height, width], floats: scale(up.map { max($0, 0) }))
    }

    /// Whether the model takes several images at once: its input's first dimension is not
    /// declared as 1 (as `Occlusion` decides).
    static func batchable(_ model: ExplainableModel) -> Bool {
        model.graph.inputs[0].dims?.first.map { $0.value == nil || $0.value! > 1 } ?? true
    }

    /// The score of `target` in each row of logits [N, classes] (`ScoreKind`).
    static func scores(_ logits: Tensor, target: Int, kind: ExplainableModel.ScoreKind) -> [Double] {
        let k = logits.shape.last!
        return (0..<(logits.count / k)).map { b in
            Double(Occlusion.score(Array(logits.floats[(b * k)..<((b + 1) * k)]), target, kind))
        }
    }
}
