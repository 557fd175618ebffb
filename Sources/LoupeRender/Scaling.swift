import LoupeTensor

/// Turning a raw explanation map into display values in 0...1.
///
/// Every function takes a float tensor of any shape and returns a tensor of the same shape.
/// Statistics (min, max, percentiles, mean, std) are over all elements and ignore NaN and
/// infinities; a NaN element stays NaN in the output (colour maps draw it black).
public enum Scaling {
    /// Min–max normalisation: `(v - min) / (max - min)`, so the smallest value is 0 and the
    /// largest 1. A constant (or empty, or all-NaN) map becomes all zeros (pytorch-grad-cam's
    /// `scale_cam_image` does the same up to its `1e-7` guard). Any shape in, same shape out.
    public static func normalizeMinMax(_ x: Tensor) throws -> Tensor {
        let v = try values(x, "normalizeMinMax")
        let f = v.filter { $0.isFinite }
        guard let lo = f.min(), let hi = f.max(), hi > lo else { return keepNaN(x, v) { _ in 0 } }
        let range = hi - lo
        return keepNaN(x, v) { min(max(($0 - lo) / range, 0), 1) }
    }

    /// Percentile clipping of a gradient (saliency) map, the way saliency maps are usually shown
    /// (Simonyan et al. 2014 show |gradient|; clipping the top 1% keeps a few large gradients
    /// from washing the picture out): take `|v|`, clip at the `percentile`-th percentile `p` of
    /// `|v|`, divide by `p`. Output in 0...1, 1 for the top `100 - percentile` %.
    ///
    /// The percentile is numpy's default (`np.percentile(method="linear")`). If `p` is 0 (most
    /// values are zero) the maximum of `|v|` is used instead; an all-zero map stays zero.
    /// Any shape in (usually H×W after reducing channels), same shape out.
    public static func clipAbsPercentile(_ x: Tensor, percentile q: Float = 99) throws -> Tensor {
        let v = try values(x, "clipAbsPercentile")
        let a = v.map { abs($0) }
        let s = try scale(a, q)
        guard s > 0 else { return keepNaN(x, v) { _ in 0 } }
        return keepNaN(x, v) { min(abs($0), s) / s }
    }

    /// Symmetric scaling of a signed map for a diverging colour map: `s` = the `percentile`-th
    /// percentile of `|v|`, output `0.5 + 0.5 * v / s` clamped to 0...1. Zero maps to 0.5, `-s`
    /// and below to 0, `+s` and above to 1, so the sign stays visible and the scale is the same
    /// on both sides. If `s` is 0 the maximum of `|v|` is used; an all-zero map is all 0.5.
    /// Any shape in, same shape out.
    public static func symmetric(_ x: Tensor, percentile q: Float = 99) throws -> Tensor {
        let v = try values(x, "symmetric")
        let s = try scale(v.map { abs($0) }, q)
        guard s > 0 else { return keepNaN(x, v) { _ in 0.5 } }
        return keepNaN(x, v) { min(max(0.5 + 0.5 * $0 / s, 0), 1) }
    }

    /// The usual picture of a C×H×W gradient image (guided backpropagation, deconvnet):
    /// `x = (x - mean) / (std + 1e-5) * 0.1 + 0.5`, clipped to 0...1, with the mean and the
    /// population standard deviation over all elements. This is `deprocess_image` of
    /// pytorch-grad-cam (`pytorch_grad_cam/utils/image.py`, after keras-grad-cam) without its
    /// final conversion to bytes. Input `[C, H, W]` (any shape works: the statistics are
    /// global), same shape out; turn it into a picture with `RGBImage(chw:)`.
    public static func deprocessImage(_ x: Tensor) throws -> Tensor {
        let v = try values(x, "deprocessImage")
        var n = 0.0, sum = 0.0
        for e in v where e.isFinite { sum += Double(e); n += 1 }
        guard n > 0 else { return keepNaN(x, v) { _ in 0.5 } }
        let mean = sum / n
        var sq = 0.0
        for e in v where e.isFinite { let d = Double(e) - mean; sq += d * d }
        let std = (sq / n).squareRoot()
        let k = 0.1 / (std + 1e-5)
        return keepNaN(x, v) { Float(min(max((Double($0) - mean) * k + 0.5, 0), 1)) }
    }

    /// The `q`-th percentile (0...100) of the finite values of `v`, with linear interpolation
    /// between order statistics exactly as numpy's default: rank `q / 100 * (n - 1)`.
    /// nil if `v` has no finite value.
    public static func percentile(_ v: [Float], _ q: Float) throws -> Float? {
        guard q >= 0, q <= 100 else {
            throw LoupeError(.invalidArgument, "percentile must be in 0...100, got \(q)")
        }
        let s = v.filter { $0.isFinite }.sorted()
        guard !s.isEmpty else { return nil }
        let rank = Double(q) / 100 * Double(s.count - 1)
        let lo = Int(rank.rounded(.down)), hi = min(lo + 1, s.count - 1)
        let t = rank - Double(lo)
        return Float(Double(s[lo]) + t * (Double(s[hi]) - Double(s[lo])))
    }

    // MARK: helpers

    /// The `q`-th percentile of `a` (non-negative values), or its maximum if that is 0.
    private static func scale(_ a: [Float], _ q: Float) throws -> Float {
        guard let p = try percentile(a, q) else { return 0 }
        if p > 0 { return p }
        return a.filter { $0.isFinite }.max() ?? 0
    }

    private static func values(_ x: Tensor, _ what: String) throws -> [Float] {
        guard x.isFloat else {
            throw LoupeError.shape("Scaling.\(what) needs a float map, got \(x.dtype.name)\(describe(x.shape))")
        }
        return x.floats
    }

    /// `f` applied to every element; NaN stays NaN, +inf/-inf are clamped by `f`'s own clamp.
    private static func keepNaN(_ x: Tensor, _ v: [Float], _ f: (Float) -> Float) -> Tensor {
        var out = [Float](repeating: 0, count: v.count)
        for i in 0..<v.count { out[i] = v[i].isNaN ? .nan : f(v[i]) }
        return Tensor(shape: x.shape, floats: out)
    }
}
