import LoupeTensor

extension RGBImage {
    /// A unit image [C, H, W] (values in [0, 1], clipped; RGB order for 3 channels, as
    /// `loupe visualize` makes them) as a picture: RGB for 3 or more channels (the first three),
    /// gray otherwise (the first channel); enlarged (nearest neighbour) by an integer factor to
    /// at least `minimumSide` pixels on its longer side.
    public static func picture(unitImage u: Tensor, minimumSide: Int = 256) throws -> RGBImage {
        let (c, h, w) = (u.shape[0], u.shape[1], u.shape[2])
        let shown = c >= 3 ? 3 : 1
        var px = [Float](repeating: 0, count: h * w * 3)
        for y in 0..<h { for x in 0..<w { for k in 0..<3 {
            px[(y * w + x) * 3 + k] = min(max(u.floats[(shown == 3 ? k : 0) * h * w + y * w + x], 0), 1)
        } } }
        let img = try RGBImage(width: w, height: h, channels: 3, pixels: px)
        let factor = max(1, minimumSide / max(h, w))
        return factor == 1 ? img : try Resample.resize(img, width: w * factor, height: h * factor, mode: .nearest)
    }
}
