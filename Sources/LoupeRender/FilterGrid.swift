import LoupeTensor

/// Convolution filters as a picture grid.
///
/// Input: weights `[C_out, C_in, kH, kW]` (ONNX Conv layout). With `C_in == 3` each filter
/// is one colour tile (channels read as R, G, B); otherwise each (filter, input channel)
/// pair is one gray tile, a row per filter. Each tile is normalised on its own to
/// [0, 1] (min → 0, max → 1; a constant tile is mid-gray) and enlarged by an integer factor
/// with nearest-neighbour scaling so that the tile is at least `minTile` pixels wide.
public enum FilterGrid {
    public static func render(_ w: Tensor, minTile: Int = 48, gap: Int = 2, maxTiles: Int = 4096) throws -> RGBImage {
        guard w.isFloat, w.rank == 4 else {
            throw LoupeError.shape("filter weights must be a float tensor [C_out, C_in, kH, kW], got \(w.dtype.name)\(describe(w.shape))")
        }
        let (co, ci, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        guard co > 0, ci > 0, kh > 0, kw > 0 else { throw LoupeError.shape("empty filter weights \(describe(w.shape))") }
        let colour = ci == 3
        let tiles = colour ? co : co * ci
        guard tiles <= maxTiles else {
            throw LoupeError(.tooLarge, "\(tiles) filter tiles is more than \(maxTiles); pick an earlier layer")
        }
        let scale = max(1, (minTile + max(kh, kw) - 1) / max(kh, kw))
        let th = kh * scale, tw = kw * scale
        let cols = colour ? Int(Double(co).squareRoot().rounded(.up)) : ci
        let rows = colour ? (co + cols - 1) / cols : co
        let width = cols * tw + (cols + 1) * gap, height = rows * th + (rows + 1) * gap
        try Tensor.checkedCount([height, width, 3])
        var px = [Float](repeating: 0.15, count: height * width * 3)
        let plane = kh * kw
        for t in 0..<tiles {
            let (r, c) = colour ? (t / cols, t % cols) : (t / ci, t % ci)
            let channels = colour ? 3 : 1
            let base = colour ? t * 3 * plane : t * plane
            let values = Array(w.floats[base..<(base + channels * plane)])
            let lo = values.min()!, hi = values.max()!
            let range = hi - lo
            let x0 = gap + c * (tw + gap), y0 = gap + r * (th + gap)
            for y in 0..<th {
                for x in 0..<tw {
                    let k = (y / scale) * kw + (x / scale)
                    let o = ((y0 + y) * width + x0 + x) * 3
                    for ch in 0..<3 {
                        let v = values[(colour ? ch : 0) * plane + k]
                        px[o + ch] = range > 0 ? (v - lo) / range : 0.5
                    }
                }
            }
        }
        return try RGBImage(width: width, height: height, channels: 3, pixels: px)
    }
}
