import LoupeExplain
import LoupeTensor

/// Turns an explanation map into the picture a person looks at, the same way for the CLI
/// and the report, by the map's kind (`Method.mapKind`):
///
/// - saliency: maximum of |∂s/∂x| over channels, clipped at its 99th percentile
///   (`Scaling.clipAbsPercentile`), blended over the image;
/// - deconvnet, guided backprop, guided Grad-CAM: the C×H×W gradient as an image with
///   pytorch-grad-cam's `deprocess_image` scaling (`Scaling.deprocessImage`), not overlaid;
/// - CAM, Grad-CAM and the CAM variants: pytorch-grad-cam's displayed map (min–max scaled,
///   upsampled bilinearly to the image, scaled again: `CAMFamily.displayed`), blended over it;
/// - occlusion: signed, scaled symmetrically around 0 (`Scaling.symmetric`) in the diverging
///   colormap, blended over the image;
/// - activations: one tile per chosen channel, each thresholded at its own quantile and
///   overlaid on the image (`activationTiles`).
public enum ExplanationPicture {
    public struct Style: Sendable {
        public var colormap: Colormap = .jet
        public var alpha: Float = 0.5
        public init() {}
    }

    /// The picture for every method except activations, at the display image's size.
    public static func render(_ e: Explanation, over image: RGBImage, style: Style = Style()) throws -> RGBImage {
        switch e.kind {
        case .inputMagnitude:
            let m = e.map
            let (c, h, w) = (m.shape[0], m.shape[1], m.shape[2])
            var best = [Float](repeating: 0, count: h * w)
            for ch in 0..<c { for i in 0..<(h * w) { best[i] = max(best[i], abs(m.floats[ch * h * w + i])) } }
            let scaled = try Scaling.clipAbsPercentile(Tensor(shape: [h, w], floats: best))
            return try Overlay.blend(scaled, over: image, colormap: style.colormap, alpha: style.alpha)
        case .inputGradient:
            var img = try RGBImage(chw: try Scaling.deprocessImage(e.map))
            if img.width != image.width || img.height != image.height {
                img = try Resample.resize(img, width: image.width, height: image.height)
            }
            return img
        case .classMap:
            let shown = try CAMFamily.displayed(e.map, height: image.height, width: image.width)
            return try Overlay.blend(shown, over: image, colormap: style.colormap, alpha: style.alpha)
        case .scoreDrop:
            return try Overlay.blend(try Scaling.symmetric(e.map), over: image, colormap: .rdBuR, alpha: style.alpha)
        case .featureMaps:
            let tiles = try activationTiles(e, over: image, channels: [topChannel(e.map)], style: style)
            return tiles[0].1
        }
    }

    /// For activations: the channel with the largest mean activation.
    public static func topChannel(_ map: Tensor) -> Int {
        let (c, plane) = (map.shape[0], map.shape[1] * map.shape[2])
        var best = 0, bestMean = -Float.infinity
        for ch in 0..<c {
            var s: Float = 0
            for i in 0..<plane { s += map.floats[ch * plane + i] }
            if s / Float(plane) > bestMean { bestMean = s / Float(plane); best = ch }
        }
        return best
    }

    /// Activation tiles: each channel normalised to its own range, upsampled, and shown in
    /// colour where it reaches its `quantile` (default 0.99: the top 1 % of its values).
    public static func activationTiles(_ e: Explanation, over image: RGBImage, channels: [Int],
                                       quantile: Double = 0.99, style: Style = Style()) throws -> [(Int, RGBImage)] {
        let m = e.map
        let (c, h, w) = (m.shape[0], m.shape[1], m.shape[2])
        return try channels.map { ch in
            guard ch >= 0, ch < c else {
                throw LoupeError(.invalidArgument, "channel \(ch) is out of range: layer '\(e.layer ?? "?")' has \(c) channels (0 to \(c - 1))")
            }
            let slice = m.floats[(ch * h * w)..<((ch + 1) * h * w)]
            let cut = ActivationMaps.threshold(slice, quantile: quantile)
            let lo = slice.min()!, hi = slice.max()!
            let norm = Tensor(shape: [h, w], floats: slice.map { hi > lo ? ($0 - lo) / (hi - lo) : 0 })
            let t = hi > lo ? (cut - lo) / (hi - lo) : 1
            let up = try Resample.bilinear(norm, height: image.height, width: image.width)
            return (ch, try Overlay.thresholded(up, over: image, colormap: style.colormap, threshold: t, alpha: 0.7))
        }
    }

    /// Every channel of a C×h×w map as one grid: each channel min–max normalised on its own,
    /// coloured, enlarged (nearest) to at least `minTile` pixels, about √C tiles per row.
    public static func channelGrid(_ map: Tensor, colormap: Colormap = .viridis, minTile: Int = 32, gap: Int = 2) throws -> RGBImage {
        guard map.rank == 3 else { throw LoupeError.shape("a channel grid needs a C×h×w map, got \(describe(map.shape))") }
        let (c, h, w) = (map.shape[0], map.shape[1], map.shape[2])
        let scale = max(1, (minTile + max(h, w) - 1) / max(h, w, 1))
        let (th, tw) = (h * scale, w * scale)
        let cols = Int(Double(c).squareRoot().rounded(.up)), rows = (c + cols - 1) / cols
        var grid = try RGBImage(width: cols * tw + (cols + 1) * gap, height: rows * th + (rows + 1) * gap, fill: (1, 1, 1))
        for ch in 0..<c {
            let slice = map.floats[(ch * h * w)..<((ch + 1) * h * w)]
            let lo = slice.min()!, hi = slice.max()!
            let norm = Tensor(shape: [h, w], floats: slice.map { hi > lo ? ($0 - lo) / (hi - lo) : 0 })
            let tile = try Resample.resize(try Overlay.heatmap(norm, colormap: colormap), width: tw, height: th, mode: .nearest)
            grid.paste(tile, x: gap + (ch % cols) * (tw + gap), y: gap + (ch / cols) * (th + gap))
        }
        return grid
    }

}
