import LoupeTensor

/// Resizing maps and images: bilinear and nearest-neighbour, both with half-pixel centres
/// (`align_corners=False`): output pixel `d` samples the input at `(d + 0.5) * in / out - 0.5`.
///
/// `bilinear` follows torch's CPU `F.interpolate(x, size=(H, W), mode="bilinear",
/// align_corners=False)` (the matching reference): `scale = in / out` in float32,
/// `src = max(scale * (d + 0.5) - 0.5, 0)`, `i0 = floor(src)`, `i1 = min(i0 + 1, in - 1)`,
/// `l1 = src - i0`, `l0 = 1 - l1`, `out = l0y * (l0x * a + l1x * b) + l1y * (l0x * c + l1x * d)`.
/// It agrees with torch to a few float32 ulps, not bit for bit: torch's build fuses some
/// multiply-adds and its vectorised kernels sum in orders of their own (checked against torch
/// 2.x on six size pairs from 5×7→13×17 to 7×7→224×224: largest difference 6.6e-7 on values of
/// size 3). It is also the formula of `cv2.resize(..., cv2.INTER_LINEAR)` (not checked here:
/// cv2 rounds its weights to 11 bits on 8-bit images). There is no antialiasing
/// when shrinking (like torch's default `antialias=False`).
///
/// `nearest` is torch's `mode="nearest-exact"`, bit for bit (checked on the same six size
/// pairs): source index `min(floor((d + 0.5) * in / out), in - 1)`. (torch's plain
/// `"nearest"` uses `floor(d * in / out)`; both agree for integer enlargement factors.)
public enum Resample {
    public enum Mode: Sendable { case bilinear, nearest }

    /// Resizes the last two axes of `x` (`[..., h, w]`, rank >= 2) to `height × width`;
    /// leading axes are independent planes. Output `[..., height, width]`.
    public static func resize(_ x: Tensor, height: Int, width: Int, mode: Mode = .bilinear) throws -> Tensor {
        guard x.isFloat, x.rank >= 2 else {
            throw LoupeError.shape("Resample needs a float map [..., h, w], got \(x.dtype.name)\(describe(x.shape))")
        }
        let h = x.shape[x.rank - 2], w = x.shape[x.rank - 1]
        try checkSizes(h, w, height, width)
        let planes = x.shape.dropLast(2).reduce(1, *)
        let outShape = Array(x.shape.dropLast(2)) + [height, width]
        return try Tensor(shape: outShape) { out in
            x.floats.withUnsafeBufferPointer { src in
                for p in 0..<planes {
                    let s = UnsafeBufferPointer(rebasing: src[(p * h * w)..<((p + 1) * h * w)])
                    let d = UnsafeMutableBufferPointer(rebasing: out[(p * height * width)..<((p + 1) * height * width)])
                    kernel(mode)(s, h, w, 1, d, height, width)
                }
            }
        }
    }

    /// Bilinear upsampling of an `h × w` map to `height × width` (shorthand for `resize`).
    public static func bilinear(_ x: Tensor, height: Int, width: Int) throws -> Tensor {
        try resize(x, height: height, width: width, mode: .bilinear)
    }

    /// Nearest-neighbour resizing of an `h × w` map to `height × width` (shorthand for `resize`).
    public static func nearest(_ x: Tensor, height: Int, width: Int) throws -> Tensor {
        try resize(x, height: height, width: width, mode: .nearest)
    }

    /// Resizes an image (every channel, alpha included, the same way).
    public static func resize(_ image: RGBImage, width: Int, height: Int, mode: Mode = .bilinear) throws -> RGBImage {
        try checkSizes(image.height, image.width, height, width)
        let c = image.channels
        let n = try Tensor.checkedCount([height, width, c])
        var out = [Float](repeating: 0, count: n)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                kernel(mode)(src, image.height, image.width, c, dst, height, width)
            }
        }
        return try RGBImage(width: width, height: height, channels: c, pixels: out)
    }

    // MARK: kernels over flat HWC buffers (C channels interleaved; a map is C = 1)

    typealias Kernel = (UnsafeBufferPointer<Float>, Int, Int, Int, UnsafeMutableBufferPointer<Float>, Int, Int) -> Void

    static func kernel(_ mode: Mode) -> Kernel {
        switch mode {
        case .bilinear: return bilinearHWC
        case .nearest: return nearestHWC
        }
    }

    /// Source index and weights along one axis, torch's `compute_indices_weights_linear`:
    /// `i0`, `i1 = min(i0 + 1, n - 1)`, `l1 = src - i0`, `l0 = 1 - l1`.
    static func linearTaps(inSize n: Int, outSize m: Int) -> (i0: [Int], i1: [Int], l0: [Float], l1: [Float]) {
        let scale = Float(n) / Float(m)
        var i0 = [Int](repeating: 0, count: m), i1 = i0
        var l0 = [Float](repeating: 0, count: m), l1 = l0
        for d in 0..<m {
            let src = max(scale * (Float(d) + 0.5) - 0.5, 0)
            let i = min(Int(src), n - 1)
            i0[d] = i
            i1[d] = i + (i < n - 1 ? 1 : 0)
            let l = min(max(src - Float(i), 0), 1)
            l1[d] = l
            l0[d] = 1 - l
        }
        return (i0, i1, l0, l1)
    }

    /// Bilinear, `out[y, x] = ly0 * (lx0 * a + lx1 * b) + ly1 * (lx0 * c + lx1 * d)`.
    static func bilinearHWC(_ src: UnsafeBufferPointer<Float>, _ h: Int, _ w: Int, _ c: Int,
                            _ dst: UnsafeMutableBufferPointer<Float>, _ H: Int, _ W: Int) {
        let ty = linearTaps(inSize: h, outSize: H), tx = linearTaps(inSize: w, outSize: W)
        for y in 0..<H {
            let r0 = ty.i0[y] * w * c, r1 = ty.i1[y] * w * c
            let ly0 = ty.l0[y], ly1 = ty.l1[y]
            let o = y * W * c
            for x in 0..<W {
                let a0 = tx.i0[x] * c, a1 = tx.i1[x] * c
                let lx0 = tx.l0[x], lx1 = tx.l1[x]
                for k in 0..<c {
                    let top = lx0 * src[r0 + a0 + k] + lx1 * src[r0 + a1 + k]
                    let bottom = lx0 * src[r1 + a0 + k] + lx1 * src[r1 + a1 + k]
                    dst[o + x * c + k] = ly0 * top + ly1 * bottom
                }
            }
        }
    }

    /// Nearest with half-pixel centres (torch "nearest-exact").
    static func nearestHWC(_ src: UnsafeBufferPointer<Float>, _ h: Int, _ w: Int, _ c: Int,
                           _ dst: UnsafeMutableBufferPointer<Float>, _ H: Int, _ W: Int) {
        let sy = Float(h) / Float(H), sx = Float(w) / Float(W)
        let xs = (0..<W).map { min(Int(((Float($0) + 0.5) * sx).rounded(.down)), w - 1) * c }
        for y in 0..<H {
            let r = min(Int(((Float(y) + 0.5) * sy).rounded(.down)), h - 1) * w * c
            let o = y * W * c
            for x in 0..<W {
                for k in 0..<c { dst[o + x * c + k] = src[r + xs[x] + k] }
            }
        }
    }

    static func checkSizes(_ h: Int, _ w: Int, _ H: Int, _ W: Int) throws {
        guard h > 0, w > 0 else { throw LoupeError.shape("cannot resize an empty \(h)x\(w) map") }
        guard H > 0, W > 0 else {
            throw LoupeError(.invalidArgument, "resize target \(H)x\(W) must be positive")
        }
    }
}
