import LoupeTensor

/// Resizing maps and images: bilinear and nearest-neighbour, both with half-pixel centres
/// (`align_corners=False`): output pixel `d` samples the input at `(d + 0.5) * in / out - 0.5`.
///
/// `bilinear` is LoupeTensor's `Bilinear` kernel: torch's CPU `F.interpolate(x, size=(H, W),
/// mode="bilinear", align_corners=False)` to a few float32 ulps (checked against torch 2.x on
/// six size pairs from 5×7→13×17 to 7×7→224×224: largest difference 6.6e-7 on values of
/// size 3), no antialiasing when shrinking.
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

    /// Bilinear: LoupeTensor's one kernel (`Bilinear`).
    static func bilinearHWC(_ src: UnsafeBufferPointer<Float>, _ h: Int, _ w: Int, _ c: Int,
                            _ dst: UnsafeMutableBufferPointer<Float>, _ H: Int, _ W: Int) {
        Bilinear.resample(src.baseAddress!, width: w, channels: c, rows: Bilinear.taps(inSize: h, outSize: H),
                          columns: Bilinear.taps(inSize: w, outSize: W), into: dst.baseAddress!)
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
