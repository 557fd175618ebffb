/// Bilinear resampling of one h×w plane to H×W with half-pixel centres (align_corners =
/// false), matching PyTorch's `F.interpolate(mode="bilinear", align_corners=False)`:
/// source coordinate = (dst + 0.5) · h / H − 0.5, clamped at 0, neighbours clamped to the edge.
public func resizeBilinear(_ src: [Float], h: Int, w: Int, toHeight H: Int, width W: Int) -> [Float] {
    precondition(src.count == h * w && h > 0 && w > 0 && H > 0 && W > 0)
    func taps(_ outN: Int, _ inN: Int) -> [(Int, Int, Float)] {
        let scale = Float(inN) / Float(outN)
        return (0..<outN).map { o in
            let s = max((Float(o) + 0.5) * scale - 0.5, 0)
            let i0 = min(Int(s), inN - 1)
            let i1 = min(i0 + 1, inN - 1)
            return (i0, i1, s - Float(i0))
        }
    }
    let ys = taps(H, h), xs = taps(W, w)
    var out = [Float](repeating: 0, count: H * W)
    for (oy, (y0, y1, wy)) in ys.enumerated() {
        for (ox, (x0, x1, wx)) in xs.enumerated() {
            let top = src[y0 * w + x0] * (1 - wx) + src[y0 * w + x1] * wx
            let bottom = src[y1 * w + x0] * (1 - wx) + src[y1 * w + x1] * wx
            out[oy * W + ox] = top * (1 - wy) + bottom * wy
        }
    }
    return out
}
