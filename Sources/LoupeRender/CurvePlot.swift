import LoupeTensor

/// A line plot of a few curves over x ∈ [0, 1] and y in a fixed range, with a frame, tick
/// labels, a title and a legend: the deletion and insertion curves of `loupe evaluate`
/// (fraction of pixels changed against the class probability). Colours are `Scatter.color`.
public enum CurvePlot {
    public struct Series: Sendable {
        public var name: String
        /// Values at evenly spaced x from 0 to 1.
        public var values: [Double]
        public init(_ name: String, _ values: [Double]) { (self.name, self.values) = (name, values) }
    }

    public static func render(_ series: [Series], title: String, xLabel: String, yLabel: String,
                              yRange: ClosedRange<Double> = 0...1, size: Int = 360) throws -> RGBImage {
        let ts = 1, margin = 12, left = 40, bottom = 28
        let titleHeight = BitmapFont.lineHeight * ts + 6
        let rowHeight = BitmapFont.lineHeight * ts + 3
        let legendHeight = series.count * rowHeight + 6
        let width = left + size + margin
        let height = margin + titleHeight + size + bottom + legendHeight
        var image = try RGBImage(width: width, height: height, fill: (1, 1, 1))
        let text: (Float, Float, Float) = (0.1, 0.1, 0.1), grey: (Float, Float, Float) = (0.8, 0.8, 0.8)
        BitmapFont.drawText(title, into: &image, x: left, y: margin, scale: ts, color: text)
        let (px0, py0) = (left, margin + titleHeight)
        func toPixel(_ x: Double, _ y: Double) -> (Float, Float) {
            let t = (min(max(y, yRange.lowerBound), yRange.upperBound) - yRange.lowerBound) / (yRange.upperBound - yRange.lowerBound)
            return (Float(px0) + Float(x) * Float(size - 1), Float(py0) + Float(1 - t) * Float(size - 1))
        }
        // Grid and frame.
        for k in 0...4 {
            let f = Double(k) / 4
            let (gx, _) = toPixel(f, 0)
            let (_, gy) = toPixel(0, yRange.lowerBound + f * (yRange.upperBound - yRange.lowerBound))
            image.fillRect(x: Int(gx), y: py0, w: 1, h: size, color: k == 0 || k == 4 ? text : grey)
            image.fillRect(x: px0, y: Int(gy), w: size, h: 1, color: k == 0 || k == 4 ? text : grey)
            let xt = String(format: "%g", f), yt = String(format: "%g", yRange.lowerBound + f * (yRange.upperBound - yRange.lowerBound))
            BitmapFont.drawText(xt, into: &image, x: Int(gx) - BitmapFont.textWidth(xt, scale: ts) / 2, y: py0 + size + 3, scale: ts, color: text)
            BitmapFont.drawText(yt, into: &image, x: px0 - 4 - BitmapFont.textWidth(yt, scale: ts), y: Int(gy) - BitmapFont.glyphHeight / 2, scale: ts, color: text)
        }
        BitmapFont.drawText(xLabel, into: &image, x: px0 + (size - BitmapFont.textWidth(xLabel, scale: ts)) / 2,
                            y: py0 + size + 3 + rowHeight, scale: ts, color: text)
        BitmapFont.drawText(yLabel, into: &image, x: px0 + 4, y: py0 + 4, scale: ts, color: text)
        // Curves, as dense discs along each segment.
        for (k, s) in series.enumerated() where s.values.count > 1 {
            let color = Scatter.color(k)
            let n = s.values.count - 1
            for i in 0..<n {
                let (ax, ay) = toPixel(Double(i) / Double(n), s.values[i])
                let (bx, by) = toPixel(Double(i + 1) / Double(n), s.values[i + 1])
                let pieces = max(1, Int(max(abs(bx - ax), abs(by - ay)) * 2))
                for j in 0...pieces {
                    let t = Float(j) / Float(pieces)
                    Scatter.disc(&image, cx: ax + (bx - ax) * t + 0.5, cy: ay + (by - ay) * t + 0.5, r: 1.2, color: color)
                }
            }
        }
        // Legend below the plot.
        let ly = py0 + size + bottom
        for (k, s) in series.enumerated() {
            let y = ly + k * rowHeight
            image.fillRect(x: px0, y: y + 2, w: 14, h: BitmapFont.glyphHeight - 4, color: Scatter.color(k))
            BitmapFont.drawText(s.name, into: &image, x: px0 + 20, y: y, scale: ts, color: text)
        }
        return image
    }
}
