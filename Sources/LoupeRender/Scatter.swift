import LoupeTensor

/// A scatter plot of 2-D points coloured by class, with a legend: the picture of a t-SNE map.
///
/// Input: N points (`x`, `y` as N × 2 row-major floats), a class per point (`labels`, -1 or
/// any index outside `classNames` for unlabelled: drawn grey, listed last in the legend when
/// present) and the class names. Output: an RGB image, the plot square on the left (data
/// scaled to fit with a margin, aspect ratio kept), the legend on the right (a swatch and the
/// name per class, with its count). Points are discs of `pointRadius` pixels, drawn
/// unlabelled first then in index order, so the picture is the same on every run.
public enum Scatter {
    public struct Style: Sendable {
        public var plotSize = 800
        public var margin = 16
        public var pointRadius = 3
        public var textScale = 2
        public var background: (Float, Float, Float) = (1, 1, 1)
        public var textColor: (Float, Float, Float) = (0.1, 0.1, 0.1)
        public var unlabelled: (Float, Float, Float) = (0.62, 0.62, 0.62)
        public init() {}
    }

    /// The category colours: Tableau's 10 (as matplotlib's `tab10`), then a golden-angle walk
    /// round the hue circle for more classes.
    public static func color(_ k: Int) -> (Float, Float, Float) {
        let tab10: [(Float, Float, Float)] = [
            (0.122, 0.467, 0.706), (1.000, 0.498, 0.055), (0.173, 0.627, 0.173), (0.839, 0.153, 0.157),
            (0.580, 0.404, 0.741), (0.549, 0.337, 0.294), (0.890, 0.467, 0.761), (0.737, 0.741, 0.133),
            (0.090, 0.745, 0.812), (0.498, 0.498, 0.498),
        ]
        if k < tab10.count { return tab10[k] }
        let hue = (Float(k) * 0.381966).truncatingRemainder(dividingBy: 1)
        return hsv(hue, 0.75, 0.85)
    }

    static func hsv(_ h: Float, _ s: Float, _ v: Float) -> (Float, Float, Float) {
        let i = Int(h * 6) % 6, f = h * 6 - Float(Int(h * 6))
        let p = v * (1 - s), q = v * (1 - f * s), t = v * (1 - (1 - f) * s)
        switch i {
        case 0: return (v, t, p)
        case 1: return (q, v, p)
        case 2: return (p, v, t)
        case 3: return (p, q, v)
        case 4: return (t, p, v)
        default: return (v, p, q)
        }
    }

    /// Draws the plot. `points.count == 2 * labels.count`.
    public static func render(points: [Float], labels: [Int], classNames: [String], title: String? = nil,
                              style: Style = Style()) throws -> RGBImage {
        precondition(points.count == 2 * labels.count, "Scatter: \(points.count / 2) points, \(labels.count) labels")
        let n = labels.count
        let isLabelled = { (l: Int) in l >= 0 && l < classNames.count }
        var counts = [Int](repeating: 0, count: classNames.count)
        var unlabelled = 0
        for l in labels { if isLabelled(l) { counts[l] += 1 } else { unlabelled += 1 } }
        var entries: [(String, (Float, Float, Float))] = classNames.enumerated().map { ("\($0.element) (\(counts[$0.offset]))", color($0.offset)) }
        if unlabelled > 0 { entries.append(("unlabelled (\(unlabelled))", style.unlabelled)) }

        let ts = style.textScale
        let titleHeight = title == nil ? 0 : BitmapFont.lineHeight * ts + style.margin / 2
        let swatch = BitmapFont.glyphHeight * ts
        let legendWidth = entries.isEmpty ? 0
            : style.margin + swatch + 6 + (entries.map { BitmapFont.textWidth($0.0, scale: ts) }.max() ?? 0)
        let rowHeight = BitmapFont.lineHeight * ts + 4
        let plotHeight = max(style.plotSize, entries.count * rowHeight)
        let width = style.margin * 2 + style.plotSize + legendWidth
        let height = style.margin * 2 + titleHeight + plotHeight
        var pixels = [Float](repeating: 0, count: width * height * 3)
        for p in 0..<(width * height) {
            pixels[3 * p] = style.background.0; pixels[3 * p + 1] = style.background.1; pixels[3 * p + 2] = style.background.2
        }
        var image = try RGBImage(width: width, height: height, channels: 3, pixels: pixels)
        if let title { BitmapFont.drawText(title, into: &image, x: style.margin, y: style.margin, scale: ts, color: style.textColor) }

        // Data to pixels: the larger extent fills the square less 2 radii.
        var lo0 = Float.infinity, hi0 = -Float.infinity, lo1 = Float.infinity, hi1 = -Float.infinity
        for i in 0..<n {
            lo0 = min(lo0, points[2 * i]); hi0 = max(hi0, points[2 * i])
            lo1 = min(lo1, points[2 * i + 1]); hi1 = max(hi1, points[2 * i + 1])
        }
        let extent = max(hi0 - lo0, hi1 - lo1, 1e-12)
        let usable = Float(style.plotSize - 4 * style.pointRadius)
        let scale = usable / extent
        let ox = Float(style.margin + 2 * style.pointRadius) + (usable - (hi0 - lo0) * scale) / 2
        let oy = Float(style.margin + titleHeight + 2 * style.pointRadius) + (usable - (hi1 - lo1) * scale) / 2
        let order = (0..<n).filter { !isLabelled(labels[$0]) } + (0..<n).filter { isLabelled(labels[$0]) }
        for i in order {
            let px = ox + (points[2 * i] - lo0) * scale
            // y up, as in a plot.
            let py = oy + (hi1 - points[2 * i + 1]) * scale
            let c = isLabelled(labels[i]) ? color(labels[i]) : style.unlabelled
            disc(&image, cx: px, cy: py, r: Float(style.pointRadius), color: c)
        }
        // Legend.
        let lx = style.margin * 2 + style.plotSize
        for (r, e) in entries.enumerated() {
            let y0 = style.margin + titleHeight + r * rowHeight
            fill(&image, x: lx, y: y0, w: swatch, h: swatch, color: e.1)
            BitmapFont.drawText(e.0, into: &image, x: lx + swatch + 6, y: y0, scale: ts, color: style.textColor)
        }
        return image
    }

    static func disc(_ image: inout RGBImage, cx: Float, cy: Float, r: Float, color: (Float, Float, Float)) {
        let x0 = max(0, Int((cx - r).rounded(.down))), x1 = min(image.width - 1, Int((cx + r).rounded(.up)))
        let y0 = max(0, Int((cy - r).rounded(.down))), y1 = min(image.height - 1, Int((cy + r).rounded(.up)))
        guard x0 <= x1, y0 <= y1 else { return }
        for y in y0...y1 {
            for x in x0...x1 {
                let dx = Float(x) + 0.5 - cx, dy = Float(y) + 0.5 - cy
                // Coverage over one pixel of edge: a soft rim, opaque inside.
                let a = min(1, max(0, r + 0.5 - (dx * dx + dy * dy).squareRoot()))
                if a <= 0 { continue }
                let p = (y * image.width + x) * 3
                image.pixels[p] = image.pixels[p] * (1 - a) + color.0 * a
                image.pixels[p + 1] = image.pixels[p + 1] * (1 - a) + color.1 * a
                image.pixels[p + 2] = image.pixels[p + 2] * (1 - a) + color.2 * a
            }
        }
    }

    static func fill(_ image: inout RGBImage, x: Int, y: Int, w: Int, h: Int, color: (Float, Float, Float)) {
        for yy in max(0, y)..<min(image.height, y + h) {
            for xx in max(0, x)..<min(image.width, x + w) {
                let p = (yy * image.width + xx) * 3
                image.pixels[p] = color.0; image.pixels[p + 1] = color.1; image.pixels[p + 2] = color.2
            }
        }
    }
}
