import LoupeTensor

/// Heat maps drawn over images, and heat maps on their own.
///
/// A heat map is a float tensor `[h, w]` (a leading `[1, 1, h, w]` or `[1, h, w]` is accepted)
/// with values already scaled to 0...1 (see `Scaling`). If its size differs from the image's,
/// it is resized to the image with `Resample.bilinear` first. Results are RGB (3 channels): a
/// gray image is repeated into R, G, B; an alpha channel is dropped (the colour is used as is).
public enum Overlay {
    /// Alpha blending, `result = (1 - alpha) * image + alpha * colormap(map)` per pixel and
    /// channel (`alpha` in 0...1; 0.5 is a common choice, pytorch-grad-cam's
    /// `show_cam_on_image` uses 0.5 with jet).
    public static func blend(_ map: Tensor, over image: RGBImage, colormap: Colormap = .jet, alpha: Float = 0.5) throws -> RGBImage {
        try checkAlpha(alpha)
        return try combine(map, image, colormap) { _, img, col in (1 - alpha) * img + alpha * col }
    }

    /// Thresholded overlay for activation maps: pixels whose map value is below `threshold`
    /// keep the image; the others become `(1 - alpha) * image + alpha * colormap(map)`
    /// (`alpha = 1`: the colour alone).
    public static func thresholded(_ map: Tensor, over image: RGBImage, colormap: Colormap = .jet,
                                   threshold: Float = 0.5, alpha: Float = 1) throws -> RGBImage {
        try checkAlpha(alpha)
        return try combine(map, image, colormap) { v, img, col in
            v < threshold ? img : (1 - alpha) * img + alpha * col
        }
    }

    /// The map alone as an RGB picture, one pixel per value (`[h, w]` → `w × h` image).
    public static func heatmap(_ map: Tensor, colormap: Colormap = .jet) throws -> RGBImage {
        let (h, w) = try planeSize(map)
        var px = [Float](repeating: 0, count: try Tensor.checkedCount([h, w, 3]))
        map.floats.withUnsafeBufferPointer { v in
            px.withUnsafeMutableBufferPointer { colormap.apply(v, into: $0) }
        }
        return try RGBImage(width: w, height: h, channels: 3, pixels: px)
    }

    // MARK: helpers

    /// `f(mapValue, imageSample, colourSample)` for every pixel and channel of the RGB result.
    static func combine(_ map: Tensor, _ image: RGBImage, _ colormap: Colormap,
                        _ f: (Float, Float, Float) -> Float) throws -> RGBImage {
        let (h, w) = try planeSize(map)
        let fitted = (h, w) == (image.height, image.width)
            ? map.reshaped([h, w])
            : try Resample.bilinear(map.reshaped([h, w]), height: image.height, width: image.width)
        let n = image.width * image.height
        var colours = [Float](repeating: 0, count: n * 3)
        fitted.floats.withUnsafeBufferPointer { v in
            colours.withUnsafeMutableBufferPointer { colormap.apply(v, into: $0) }
        }
        let rgb = image.rgbSamples()
        var out = [Float](repeating: 0, count: n * 3)
        for p in 0..<n {
            let v = fitted.floats[p]
            for k in 0..<3 { out[3 * p + k] = f(v, rgb[3 * p + k], colours[3 * p + k]) }
        }
        return try RGBImage(width: image.width, height: image.height, channels: 3, pixels: out)
    }

    /// `(h, w)` of a heat map `[h, w]`, `[1, h, w]` or `[1, 1, h, w]`.
    static func planeSize(_ map: Tensor) throws -> (Int, Int) {
        guard map.isFloat, map.rank >= 2, map.shape.dropLast(2).allSatisfy({ $0 == 1 }) else {
            throw LoupeError.shape("a heat map is a float tensor [h, w] (leading 1s allowed), got \(map.dtype.name)\(describe(map.shape))")
        }
        let h = map.shape[map.rank - 2], w = map.shape[map.rank - 1]
        guard h > 0, w > 0 else { throw LoupeError.shape("empty heat map \(describe(map.shape))") }
        return (h, w)
    }

    static func checkAlpha(_ alpha: Float) throws {
        guard alpha >= 0, alpha <= 1 else {
            throw LoupeError(.invalidArgument, "overlay alpha must be in 0...1, got \(alpha)")
        }
    }
}
