import LoupeTensor

extension RGBImage {
    /// An image from a float tensor `[C, H, W]` or `[1, C, H, W]` with C = 1 (gray) or 3 (RGB),
    /// values already in 0...1 (e.g. `Scaling.deprocessImage` of a guided-backprop gradient);
    /// values are clamped to 0...1. Output `W × H` with C channels, HWC.
    public init(chw x: Tensor) throws {
        let s = x.rank == 4 && x.shape[0] == 1 ? Array(x.shape.dropFirst()) : x.shape
        guard x.isFloat, s.count == 3, s[0] == 1 || s[0] == 3, s[1] > 0, s[2] > 0 else {
            throw LoupeError.shape("an image tensor is float [C, H, W] or [1, C, H, W] with C = 1 or 3, got \(x.dtype.name)\(describe(x.shape))")
        }
        let (c, h, w) = (s[0], s[1], s[2])
        var px = [Float](repeating: 0, count: c * h * w)
        let plane = h * w
        for k in 0..<c {
            for i in 0..<plane { px[i * c + k] = min(max(x.floats[k * plane + i], 0), 1) }
        }
        try self.init(width: w, height: h, channels: c, pixels: px)
    }

    /// A `width × height` RGB image filled with one colour.
    public init(width: Int, height: Int, fill: (Float, Float, Float)) throws {
        let n = try Tensor.checkedCount([height, width, 3])
        var px = [Float](repeating: 0, count: n)
        for i in stride(from: 0, to: n, by: 3) { px[i] = fill.0; px[i + 1] = fill.1; px[i + 2] = fill.2 }
        try self.init(width: width, height: height, channels: 3, pixels: px)
    }

    /// The pixels as RGB triples, HWC: gray is repeated into R, G and B, alpha is dropped.
    public func rgbSamples() -> [Float] {
        if channels == 3 { return pixels }
        let n = width * height
        var out = [Float](repeating: 0, count: n * 3)
        for p in 0..<n {
            let base = p * channels
            if channels >= 3 {
                out[3 * p] = pixels[base]; out[3 * p + 1] = pixels[base + 1]; out[3 * p + 2] = pixels[base + 2]
            } else {
                let g = pixels[base]
                out[3 * p] = g; out[3 * p + 1] = g; out[3 * p + 2] = g
            }
        }
        return out
    }

    /// The image as RGB (3 channels), see `rgbSamples`.
    public func rgb() throws -> RGBImage {
        try RGBImage(width: width, height: height, channels: 3, pixels: rgbSamples(), bitDepth: bitDepth)
    }

    /// Copies `tile` (any channel count; converted to RGB) into this RGB image with its top-left
    /// corner at (`x`, `y`); parts outside are cut off. `self` must have 3 channels.
    public mutating func paste(_ tile: RGBImage, x: Int, y: Int) {
        precondition(channels == 3, "paste needs an RGB destination")
        let src = tile.rgbSamples()
        for ty in 0..<tile.height {
            let py = y + ty
            guard py >= 0, py < height else { continue }
            for tx in 0..<tile.width {
                let px = x + tx
                guard px >= 0, px < width else { continue }
                let o = (py * width + px) * 3, s = (ty * tile.width + tx) * 3
                pixels[o] = src[s]; pixels[o + 1] = src[s + 1]; pixels[o + 2] = src[s + 2]
            }
        }
    }

    /// Fills the rectangle (`x`, `y`, `w`, `h`), clipped to the image, with `color`.
    /// `self` must have 3 channels.
    public mutating func fillRect(x: Int, y: Int, w: Int, h: Int, color: (Float, Float, Float)) {
        precondition(channels == 3, "fillRect needs an RGB destination")
        for py in max(0, y)..<max(max(0, y), min(height, y + h)) {
            for px in max(0, x)..<max(max(0, x), min(width, x + w)) {
                let o = (py * width + px) * 3
                pixels[o] = color.0; pixels[o + 1] = color.1; pixels[o + 2] = color.2
            }
        }
    }
}
