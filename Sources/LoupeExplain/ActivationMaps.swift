import LoupeGraph
import LoupeTensor

/// Activation maps: a layer's feature maps for one image, as in Zeiler and Fergus 2014 and
/// Yosinski et al., "Understanding Neural Networks Through Deep Visualization", 2015.
///
/// Output: the layer's output for batch item 0, C×h×w, raw values. The picture thresholds
/// each chosen channel at a quantile of its own values (default: the top 1 % stand out) and
/// overlays it on the image; `threshold(_:quantile:)` computes that cut. The CLI also writes a
/// grid of all channels (`ExplanationPicture.channelGrid`).
public enum ActivationMaps {
    public static func explain(_ model: ExplainableModel, _ x: Tensor, layer: String? = nil) throws -> Explanation {
        let (node, tensor) = try model.resolveLayer(layer, for: x)
        let (logits, values) = try model.forward(x, keep: [tensor])
        let top = logits.indices.max { logits[$0] < logits[$1] }!
        return Explanation(method: .activations, map: try firstItem(values[tensor]!), target: top, layer: node)
    }

    /// The value at quantile `q` (0...1) of `values`, by linear interpolation between order
    /// statistics (NumPy's default `np.quantile`).
    public static func threshold(_ values: ArraySlice<Float>, quantile q: Double) -> Float {
        let s = values.sorted()
        guard !s.isEmpty else { return 0 }
        let pos = q * Double(s.count - 1)
        let i = Int(pos), f = Float(pos - Double(i))
        return i + 1 < s.count ? s[i] * (1 - f) + s[i + 1] * f : s[i]
    }
}
