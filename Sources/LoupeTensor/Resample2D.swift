/// Bilinear resampling of images and maps with half-pixel centres (align_corners = false), as
/// torch's CPU `F.interpolate(x, size=(H, W), mode="bilinear", align_corners=False)` computes
/// it: `scale = in / out` in float32, source `s = max(scale * (d + 0.5) - 0.5, 0)`,
/// `i0 = floor(s)` (at most `in - 1`), `i1 = min(i0 + 1, in - 1)`, `l1 = s - i0`, `l0 = 1 - l1`,
/// `out = l0y * (l0x * a + l1x * b) + l1y * (l0x * c + l1x * d)`. No antialiasing when
/// shrinking (torch's default `antialias=False`). It agrees with torch to a few float32 ulps
/// (torch fuses some multiply-adds and sums in orders of its own).
///
/// The bilinear resampler for maps (Guided Grad-CAM, overlays), images (`Resample` in
/// LoupeRender) and preprocessing (resize then centre crop: `taps(offset:count:)` gives the
/// crop's taps directly). Its taps follow torch; the resampling itself is the Resize op's
/// separable engine (`Movement.resamplePass`), which with ONNX's taps also serves every
/// coordinate mode, cubic and antialias of the op.
public enum Bilinear {
    /// Source indices and weights along one axis, one entry per output position.
    public struct Taps: Sendable, Equatable {
        public var i0: [Int]
        public var i1: [Int]
        public var l0: [Float]
        public var l1: [Float]

        /// The same taps in the Resize engine's form: two (index, weight) pairs per position.
        var engineTaps: Movement.Taps {
            let n = i0.count
            var t = Movement.Taps(count: 2, index: [Int](repeating: 0, count: 2 * n),
                                  weight: [Float](repeating: 0, count: 2 * n), outside: [Bool](repeating: false, count: n))
            for j in 0..<n {
                t.index[2 * j] = i0[j]; t.index[2 * j + 1] = i1[j]
                t.weight[2 * j] = l0[j]; t.weight[2 * j + 1] = l1[j]
            }
            return t
        }
    }

    /// Taps for output positions `offset ..< offset + count` (default: all `outSize`) of an
    /// axis resized from `inSize` to `outSize`.
    public static func taps(inSize n: Int, outSize m: Int, offset: Int = 0, count: Int? = nil) -> Taps {
        precondition(n > 0 && m > 0, "Bilinear.taps: sizes \(n) → \(m)")
        let scale = Float(n) / Float(m)
        let count = count ?? m
        var t = Taps(i0: [Int](repeating: 0, count: count), i1: [Int](repeating: 0, count: count),
                     l0: [Float](repeating: 0, count: count), l1: [Float](repeating: 0, count: count))
        for j in 0..<count {
            let src = max(scale * (Float(j + offset) + 0.5) - 0.5, 0)
            let i = min(Int(src), n - 1)
            t.i0[j] = i
            t.i1[j] = i + (i < n - 1 ? 1 : 0)
            let l = min(max(src - Float(i), 0), 1)
            t.l1[j] = l
            t.l0[j] = 1 - l
        }
        return t
    }

    /// Resamples an `h × w` buffer of `c` interleaved channels (HWC; a map is c = 1) to
    /// `rows.count × columns.count × c`: dst[y, x, k] = l0y·(l0x·a + l1x·b) + l1y·(l0x·c + l1x·d).
    ///
    /// The arithmetic is the Resize op's separable engine (`Movement.resamplePass`), a pass
    /// along the columns then one along the rows, with this type's taps: one resampling kernel
    /// in Loupe, with ONNX's coordinate rules for the op and torch's for pictures.
    public static func resample(
        _ src: UnsafePointer<Float>, width w: Int, channels c: Int, rows ty: Taps, columns tx: Taps,
        into dst: UnsafeMutablePointer<Float>
    ) {
        let W = tx.i0.count
        // Only the source rows the row taps read take part.
        let h = (ty.i1.max() ?? -1) + 1
        guard h > 0, W > 0 else { return }
        let across = UnsafeMutablePointer<Float>.allocate(capacity: h * W * c)
        defer { across.deallocate() }
        Movement.resamplePass(src, outer: h, inLength: w, inner: c, taps: tx.engineTaps, fill: 0, into: across)
        Movement.resamplePass(across, outer: 1, inLength: h, inner: W * c, taps: ty.engineTaps, fill: 0, into: dst)
    }

    /// Reference for `taps` + `resample`: each output pixel from its source coordinate, in
    /// Double, with the coordinate clamped to the image.
    public static func resampleNaive(_ src: [Float], height h: Int, width w: Int, channels c: Int,
                                     toHeight H: Int, width W: Int) -> [Float] {
        func coordinate(_ d: Int, _ n: Int, _ m: Int) -> (Int, Int, Double) {
            let s = min(max((Double(d) + 0.5) * Double(n) / Double(m) - 0.5, 0), Double(n - 1))
            let i = Int(s)
            return (i, min(i + 1, n - 1), s - Double(i))
        }
        var out = [Float](repeating: 0, count: H * W * c)
        for y in 0..<H {
            let (y0, y1, wy) = coordinate(y, h, H)
            for x in 0..<W {
                let (x0, x1, wx) = coordinate(x, w, W)
                for k in 0..<c {
                    func at(_ r: Int, _ q: Int) -> Double { Double(src[(r * w + q) * c + k]) }
                    let top = at(y0, x0) * (1 - wx) + at(y0, x1) * wx
                    let bottom = at(y1, x0) * (1 - wx) + at(y1, x1) * wx
                    out[(y * W + x) * c + k] = Float(top * (1 - wy) + bottom * wy)
                }
            }
        }
        return out
    }
}

/// Bilinear resampling of one h×w plane to H×W (see `Bilinear`).
public func resizeBilinear(_ src: [Float], h: Int, w: Int, toHeight H: Int, width W: Int) -> [Float] {
    precondition(src.count == h * w && h > 0 && w > 0 && H > 0 && W > 0)
    var out = [Float](repeating: 0, count: H * W)
    src.withUnsafeBufferPointer { s in
        out.withUnsafeMutableBufferPointer { d in
            Bilinear.resample(s.baseAddress!, width: w, channels: 1, rows: Bilinear.taps(inSize: h, outSize: H),
                              columns: Bilinear.taps(inSize: w, outSize: W), into: d.baseAddress!)
        }
    }
    return out
}
