import Foundation

/// A linear resampling of a [C, inH, inW] image onto [C, outH, outW], shared by all channels:
/// every output pixel reads its source point (sy, sx) by bilinear interpolation with zeros
/// outside the image (PyTorch's `grid_sample` with `padding_mode="zeros"`, as kornia's
/// `warp_affine` and `translate` use it), or, where the source is nil, holds a constant
/// (padding). The inverse warp is stored as at most four (index, weight) taps per output
/// pixel, so the forward pass is a gather and the adjoint, the exact gradient, a scatter.
public struct Warp: Sendable {
    public let inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int
    /// Four taps per output pixel: source indices (−1: none) and weights.
    var index: [Int32]
    var weight: [Float]
    /// Constant per output pixel (the pad value where the source is nil), or nil for none.
    var constant: [Float]?

    /// `source(oy, ox)`: the point in input pixel coordinates (pixel centres at integers, as
    /// `align_corners=True`) that output pixel (oy, ox) reads, or nil for `fill`.
    public init(inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int, fill: Float = 0,
                source: (Int, Int) -> (y: Double, x: Double)?) {
        self.inHeight = inHeight; self.inWidth = inWidth; self.outHeight = outHeight; self.outWidth = outWidth
        let n = outHeight * outWidth
        var index = [Int32](repeating: -1, count: 4 * n), weight = [Float](repeating: 0, count: 4 * n)
        var constant: [Float]? = nil
        for oy in 0..<outHeight {
            for ox in 0..<outWidth {
                let o = oy * outWidth + ox
                guard let point = source(oy, ox) else {
                    if fill != 0 {
                        if constant == nil { constant = [Float](repeating: 0, count: n) }
                        constant![o] = fill
                    }
                    continue
                }
                let (sy, sx) = point
                let y0 = Int(sy.rounded(.down)), x0 = Int(sx.rounded(.down))
                let fy = sy - Double(y0), fx = sx - Double(x0)
                for t in 0..<4 {
                    let (y, x) = (y0 + t / 2, x0 + t % 2)
                    let w = (t / 2 == 0 ? 1 - fy : fy) * (t % 2 == 0 ? 1 - fx : fx)
                    guard w != 0, y >= 0, y < inHeight, x >= 0, x < inWidth else { continue }
                    index[4 * o + t] = Int32(y * inWidth + x)
                    weight[4 * o + t] = Float(w)
                }
            }
        }
        self.index = index; self.weight = weight; self.constant = constant
    }

    /// The warped image, [C, outH, outW] flat.
    public func apply(_ x: [Float], channels: Int) -> [Float] {
        let (n, m) = (outHeight * outWidth, inHeight * inWidth)
        var out = [Float](repeating: 0, count: channels * n)
        x.withUnsafeBufferPointer { px in
            index.withUnsafeBufferPointer { pi in
                weight.withUnsafeBufferPointer { pw in
                    for c in 0..<channels {
                        let src = px.baseAddress! + c * m
                        for o in 0..<n {
                            var s: Float = constant?[o] ?? 0
                            for t in 4 * o ..< 4 * o + 4 where pi[t] >= 0 { s += pw[t] * src[Int(pi[t])] }
                            out[c * n + o] = s
                        }
                    }
                }
            }
        }
        return out
    }

    /// The adjoint of the linear part: the gradient on the input for a gradient `g` on the output.
    public func adjoint(_ g: [Float], channels: Int) -> [Float] {
        let (n, m) = (outHeight * outWidth, inHeight * inWidth)
        var out = [Float](repeating: 0, count: channels * m)
        out.withUnsafeMutableBufferPointer { po in
            g.withUnsafeBufferPointer { pg in
                for c in 0..<channels {
                    let dst = po.baseAddress! + c * m
                    for o in 0..<n {
                        let v = pg[c * n + o]
                        for t in 4 * o ..< 4 * o + 4 where index[t] >= 0 { dst[Int(index[t])] += weight[t] * v }
                    }
                }
            }
        }
        return out
    }
}

extension Warp {
    /// `F.pad(x, [w] * 4, mode="constant", value=fill)`.
    public static func pad(height: Int, width: Int, by w: Int, fill: Float) -> Warp {
        Warp(inHeight: height, inWidth: width, outHeight: height + 2 * w, outWidth: width + 2 * w, fill: fill) { oy, ox in
            let (y, x) = (oy - w, ox - w)
            return y >= 0 && y < height && x >= 0 && x < width ? (Double(y), Double(x)) : nil
        }
    }

    /// kornia's `translate(x, [[dx, dy]])` as Lucent's `jitter` calls it: the content moves by
    /// about (dx, dy), zeros come in (see `korniaAffine` for the exact, sub-pixel, amount).
    public static func translate(height: Int, width: Int, dx: Int, dy: Int) -> Warp {
        korniaAffine(height: height, width: width) { y, x in (y - Double(dy), x - Double(dx)) }
    }

    /// An affine warp as kornia ≤ 0.4.1 (the version Lucent pins) computes `warp_affine` and
    /// `translate`: the matrix is normalised for `align_corners=True` pixel coordinates, but the
    /// sampling grid uses `align_corners=False`. Output pixel o (along an axis of n pixels) thus
    /// reads s = n/(n − 1) · M⁻¹((o + ½)(n − 1)/n) − ½, with `inverse` = M⁻¹ in (y, x) pixel
    /// coordinates: a shift by d moves the content by d·n/(n − 1) pixels, bilinearly.
    static func korniaAffine(height: Int, width: Int, inverse: @escaping (Double, Double) -> (Double, Double)) -> Warp {
        let (h, w) = (Double(height), Double(width))
        return Warp(inHeight: height, inWidth: width, outHeight: height, outWidth: width) { oy, ox in
            let (qy, qx) = inverse((Double(oy) + 0.5) * (h - 1) / h, (Double(ox) + 0.5) * (w - 1) / w)
            return (qy * h / (h - 1) - 0.5, qx * w / (w - 1) - 0.5)
        }
    }

    /// Bilinear resize with `align_corners=True` (`torch.nn.Upsample(size, mode="bilinear",
    /// align_corners=True)`), the input placed at (top, left) of a zero canvas outH × outW.
    public static func resize(height: Int, width: Int, toHeight sh: Int, toWidth sw: Int,
                              top: Int = 0, left: Int = 0, canvasHeight: Int? = nil, canvasWidth: Int? = nil) -> Warp {
        let ry = sh > 1 ? Double(height - 1) / Double(sh - 1) : 0
        let rx = sw > 1 ? Double(width - 1) / Double(sw - 1) : 0
        return Warp(inHeight: height, inWidth: width, outHeight: canvasHeight ?? sh, outWidth: canvasWidth ?? sw) { oy, ox in
            let (y, x) = (oy - top, ox - left)
            return y >= 0 && y < sh && x >= 0 && x < sw ? (Double(y) * ry, Double(x) * rx) : nil
        }
    }

    /// kornia's `warp_affine(x, get_rotation_matrix2d(center, angle, 1), dsize=(H, W))` with the
    /// centre ((W − 1)/2, (H − 1)/2), as Lucent's `random_rotate` calls it: a rotation by
    /// `degrees` (counter-clockwise on screen for positive angles, as OpenCV's
    /// `getRotationMatrix2D`), bilinear, zeros outside, with kornia's coordinates (`korniaAffine`).
    public static func rotate(height: Int, width: Int, degrees: Double) -> Warp {
        let t = degrees * Double.pi / 180
        let (a, b) = (cos(t), sin(t))
        let (cx, cy) = (Double(width - 1) / 2, Double(height - 1) / 2)
        // M maps source to destination: [[a, b], [−b, a]] about the centre; M⁻¹ = [[a, −b], [b, a]].
        return korniaAffine(height: height, width: width) { y, x in
            let (u, v) = (x - cx, y - cy)
            return (b * u + a * v + cy, a * u - b * v + cx)
        }
    }
}
