import LoupeExplain
import LoupeTensor

/// The picture of a model-randomisation sanity check (`SanityCheck`, Adebayo et al. 2018):
/// each similarity against the number of layers randomised (0: the original model, every
/// similarity 1), one coloured line per similarity, a grey line at the failure threshold, and
/// the layer reached at each step listed under the plot.
public enum SanityPlot {
    public static func render(_ result: SanityCheck.Result, title: String) throws -> RGBImage {
        let ts = 2, margin = 16, plotW = 640, plotH = 400, axisLeft = 60
        let line = BitmapFont.lineHeight * ts
        let names = Similarity.Scores.names
        let footer = (result.steps.count + 1) * line + margin
        let width = margin * 2 + axisLeft + plotW + 220
        let height = margin * 3 + line + plotH + line + footer
        var image = try RGBImage(width: width, height: height, channels: 3, pixels: [Float](repeating: 1, count: width * height * 3))
        let dark: (Float, Float, Float) = (0.1, 0.1, 0.1), grey: (Float, Float, Float) = (0.75, 0.75, 0.75)
        BitmapFont.drawText(title, into: &image, x: margin, y: margin, scale: ts, color: dark)
        let x0 = margin + axisLeft, y0 = margin * 2 + line
        let n = max(result.steps.count, 1)
        func px(_ step: Int) -> Int { x0 + step * plotW / n }
        func py(_ v: Double) -> Int { y0 + Int((1 - (max(-1, min(1, v)) + 1) / 2) * Double(plotH)) }
        for v in [-1.0, -0.5, 0, 0.5, 1] {
            let y = py(v)
            segment(&image, x0, y, x0 + plotW, y, v == SanityCheck.threshold ? (0.5, 0.5, 0.5) : grey, thick: v == SanityCheck.threshold ? 2 : 1)
            let label = v == 0 ? "0" : String(v)
            BitmapFont.drawText(label, into: &image, x: x0 - 8 - BitmapFont.textWidth(label, scale: ts), y: y - line / 2, scale: ts, color: dark)
        }
        segment(&image, x0, y0, x0, y0 + plotH, dark, thick: 1)
        for s in 0...result.steps.count {
            BitmapFont.drawText(String(s), into: &image, x: px(s) - BitmapFont.textWidth(String(s), scale: ts) / 2, y: y0 + plotH + 6, scale: ts, color: dark)
        }
        for (k, name) in names.enumerated() {
            let color = Scatter.color(k)
            let values = [1.0] + result.steps.map { $0.scores.values[k] }
            for s in 1..<values.count where values[s].isFinite && values[s - 1].isFinite {
                segment(&image, px(s - 1), py(values[s - 1]), px(s), py(values[s]), color, thick: 2)
            }
            let ly = y0 + k * (line + 6)
            segment(&image, x0 + plotW + 16, ly + line / 2, x0 + plotW + 40, ly + line / 2, color, thick: 3)
            BitmapFont.drawText(name, into: &image, x: x0 + plotW + 46, y: ly, scale: ts, color: dark)
        }
        var fy = y0 + plotH + line + margin
        BitmapFont.drawText("layers randomised, output first:", into: &image, x: margin, y: fy, scale: ts, color: dark)
        for (i, s) in result.steps.enumerated() {
            fy += line
            BitmapFont.drawText("\(i + 1): \(s.layer.node) (\(s.layer.opType))", into: &image, x: margin, y: fy, scale: ts, color: dark)
        }
        return image
    }

    /// A straight line from (xa, ya) to (xb, yb), `thick` pixels wide.
    static func segment(_ image: inout RGBImage, _ xa: Int, _ ya: Int, _ xb: Int, _ yb: Int, _ c: (Float, Float, Float), thick: Int) {
        let steps = max(abs(xb - xa), abs(yb - ya), 1)
        for i in 0...steps {
            let x = xa + (xb - xa) * i / steps, y = ya + (yb - ya) * i / steps
            for dy in 0..<thick {
                for dx in 0..<thick {
                    let (px, py) = (x + dx - thick / 2, y + dy - thick / 2)
                    guard px >= 0, py >= 0, px < image.width, py < image.height else { continue }
                    let o = (py * image.width + px) * 3
                    image.pixels[o] = c.0; image.pixels[o + 1] = c.1; image.pixels[o + 2] = c.2
                }
            }
        }
    }
}
