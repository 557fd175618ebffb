import Foundation
import LoupeTensor

/// Writes a `ReportDocument` as one self-contained HTML page: inline CSS, every picture a
/// PNG `data:` URI, no script, no font or stylesheet from anywhere else, so the file can be
/// mailed or archived and opens offline. The layout is a responsive CSS grid (see
/// `ReportHTML.css`): method cards wrap from several columns on a laptop to two on a phone,
/// pictures scale to their cells, the layer table scrolls sideways inside its box.
/// `encodePNG` turns a picture into PNG bytes (LoupeFormats' `ImageIO.pngData`); the
/// renderer draws pixels and leaves file formats to the library that reads and writes them.
public enum ReportHTML {
    public typealias PNGEncoder = (RGBImage) throws -> Data

    public static func render(_ doc: ReportDocument, encodePNG: PNGEncoder) throws -> String {
        var out = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="generator" content="\(escape(doc.generator))">
            <title>\(escape(doc.title))</title>
            <style>
            \(css)
            </style>
            </head>
            <body>
            <header>
            <h1>\(escape(doc.title))</h1>
            <p class="sub">\(escape(doc.model.path)) · \(doc.images.count) image\(doc.images.count == 1 ? "" : "s") · \(escape(doc.generator))</p>
            <nav><a href="#model">Model</a><a href="#filters">Filters</a>
            """
        for (i, s) in doc.images.enumerated() {
            out += "<a href=\"#image-\(i + 1)\">\(escape(fileName(s.path)))</a>"
        }
        out += "<a href=\"#settings\">Settings</a></nav>\n</header>\n<main>\n"
        out += modelSection(doc.model)
        out += try filtersSection(doc, encodePNG)
        for (i, s) in doc.images.enumerated() { out += try imageSection(s, number: i + 1, encodePNG) }
        out += settingsSection(doc.settings)
        out += "</main>\n<footer>Made by \(escape(doc.generator)). Every picture is embedded in this file.</footer>\n</body>\n</html>\n"
        return out
    }

    // MARK: - Sections

    static func modelSection(_ m: ReportDocument.Model) -> String {
        var s = "<section id=\"model\" class=\"card\">\n<h2>Model</h2>\n<dl class=\"facts\">\n"
        func fact(_ k: String, _ v: String, mono: Bool = false) {
            s += "<dt>\(escape(k))</dt><dd\(mono ? " class=\"mono\"" : "")>\(escape(v))</dd>\n"
        }
        fact("file", m.path, mono: true)
        fact("size", "\(grouped(m.bytes)) bytes")
        fact("SHA-256", m.sha256, mono: true)
        if !m.producer.isEmpty { fact("producer", m.producer) }
        fact("opset", String(m.opset))
        for v in m.inputs { fact("input", "\(v.name) \(v.type)", mono: true) }
        for v in m.outputs { fact("output", "\(v.name) \(v.type)", mono: true) }
        fact("parameters", grouped(m.parameters))
        fact("MACs", "\(grouped(m.macs)) (\(String(format: "%.2f", Double(m.macs) / 1e9)) G)")
        fact("nodes", "\(m.layers.count) (\(m.foldedNodes) constant nodes folded)")
        s += "</dl>\n"
        s += "<details\(m.layers.count <= 40 ? " open" : "")><summary>Layers (\(m.layers.count))</summary>\n"
        s += "<div class=\"scroll\"><table>\n<thead><tr><th>node</th><th>op</th><th>output shape</th><th class=\"num\">params</th><th class=\"num\">MACs</th></tr></thead>\n<tbody>\n"
        for l in m.layers {
            s += "<tr><td class=\"mono\">\(escape(l.name))</td><td>\(escape(l.op))</td><td class=\"mono\">\(escape(l.shape))</td>"
            s += "<td class=\"num\">\(l.parameters == 0 ? "" : grouped(l.parameters))</td><td class=\"num\">\(l.macs == 0 ? "" : grouped(l.macs))</td></tr>\n"
        }
        s += "</tbody>\n</table></div>\n</details>\n</section>\n"
        return s
    }

    static func filtersSection(_ doc: ReportDocument, _ png: PNGEncoder) throws -> String {
        var s = "<section id=\"filters\" class=\"card\">\n<h2>First-layer filters</h2>\n"
        if let f = doc.filters {
            s += "<figure class=\"wide\">\(try img(f.image, alt: f.title, enlarge: true, png))<figcaption><b>\(escape(f.title))</b> \(escape(f.caption))</figcaption></figure>\n"
        } else {
            s += "<p class=\"note\">\(escape(doc.filtersNote ?? "No convolution filters to show."))</p>\n"
        }
        return s + "</section>\n"
    }

    static func imageSection(_ sec: ReportDocument.ImageSection, number: Int, _ png: PNGEncoder) throws -> String {
        var s = "<section id=\"image-\(number)\" class=\"card\">\n<h2>\(escape(fileName(sec.path)))</h2>\n"
        s += "<p class=\"sub mono\">\(escape(sec.path))</p>\n<div class=\"top\">\n"
        s += "<figure class=\"input\">\(try img(sec.input, alt: "input \(fileName(sec.path))", png))<figcaption>model input after preprocessing (each channel min–max scaled)</figcaption></figure>\n"
        s += "<div class=\"preds\">\n<h3>Top \(sec.predictions.count) predictions</h3>\n<ol class=\"bars\">\n"
        for p in sec.predictions {
            let pct = p.probability * 100
            let name = p.label.map { "\(p.index) \($0)" } ?? "class \(p.index)"
            let hit = p.index == sec.target ? " class=\"target\"" : ""
            s += "<li\(hit)><span class=\"name\">\(escape(name))</span><span class=\"bar\"><span style=\"width:\(String(format: "%.2f", min(max(pct, 0), 100)))%\"></span></span>"
            s += "<span class=\"pct\">\(String(format: "%.1f", pct))%</span></li>\n"
        }
        s += "</ol>\n<p class=\"sub\">Explained class: <b>\(sec.target)\(sec.targetLabel.map { " " + escape($0) } ?? "")</b></p>\n</div>\n</div>\n"
        s += "<div class=\"methods\">\n"
        for m in sec.methods {
            s += "<figure class=\"method\">\n<h3>\(escape(m.title))</h3>\n"
            if let p = m.picture {
                s += try img(p, alt: "\(m.title) for \(fileName(sec.path))", png) + "\n"
            } else {
                s += "<p class=\"note\">\(escape(m.note ?? "not computed"))</p>\n"
            }
            if let l = m.legend, m.picture != nil { s += legend(l) }
            if let c = m.sanity { s += sanity(c) }
            s += "<figcaption>\(escape(m.summary))"
            if !m.detail.isEmpty { s += " <span class=\"detail\">\(escape(m.detail))</span>" }
            s += "</figcaption>\n"
            s += "</figure>\n"
        }
        s += "</div>\n"
        for f in sec.extras {
            s += "<details><summary>\(escape(f.title))</summary><figure class=\"wide\">\(try img(f.image, alt: f.title, png))<figcaption>\(escape(f.caption))</figcaption></figure></details>\n"
        }
        return s + "</section>\n"
    }

    static func settingsSection(_ rows: [(String, String)]) -> String {
        var s = "<section id=\"settings\" class=\"card\">\n<h2>Settings</h2>\n<dl class=\"facts\">\n"
        for (k, v) in rows { s += "<dt>\(escape(k))</dt><dd>\(escape(v))</dd>\n" }
        return s + "</dl>\n</section>\n"
    }

    /// The sanity check of one method on one image: a warning badge when the method fails (its
    /// map still correlates with the original once every layer is random), a quiet line when
    /// it passes or could not be checked. `data-sanity-spearman-abs` holds the number for scripts.
    static func sanity(_ c: ReportDocument.SanityResult) -> String {
        let after = "after full randomisation (every Conv and linear layer re-drawn, seed \(c.seed))"
        guard let r = c.spearmanAbs else {
            let why = c.note ?? "the map is constant once every layer is randomised, so its rank correlation is undefined; counted as passing"
            return "<p class=\"sanity\">Sanity check: \(escape(why)).</p>\n"
        }
        let value = String(format: "%.2f", r)
        let data = " data-sanity-spearman-abs=\"\(String(format: "%.6f", r))\""
        if c.fails {
            return "<p class=\"badge fail\"\(data)>⚠ Fails sanity check: Spearman rank correlation of absolute values \(value) \(escape(after)), above \(String(format: "%g", c.threshold)): the map barely depends on the weights.</p>\n"
        }
        return "<p class=\"sanity pass\"\(data)>Passes sanity check: Spearman rank correlation of absolute values \(value) \(escape(after)).</p>\n"
    }

    /// A colour bar as a CSS gradient with 17 stops sampled from the colormap.
    static func legend(_ l: ReportDocument.Legend) -> String {
        let stops = (0...16).map { i -> String in
            let v = Float(i) / 16
            let (r, g, b) = l.colormap.map(v)
            return "rgb(\(Int((r * 255).rounded())),\(Int((g * 255).rounded())),\(Int((b * 255).rounded()))) \(String(format: "%.2f", v * 100))%"
        }
        var s = "<div class=\"legend\"><span class=\"ramp\" style=\"background:linear-gradient(to right,\(stops.joined(separator: ",")))\"></span>"
        s += "<span class=\"ticks\">" + l.labels.map { "<span>\(escape($0))</span>" }.joined() + "</span>"
        s += "<span class=\"what\">\(escape(l.text))</span></div>\n"
        return s
    }

    // MARK: - Pieces

    /// An `<img>` with the picture as a PNG data URI. Small pictures keep hard pixel edges
    /// when the browser enlarges them.
    /// With `enlarge`, a picture under 400 pixels wide is shown at twice its size (nearest
    /// neighbour), never wider than its box.
    static func img(_ image: RGBImage, alt: String, enlarge: Bool = false, _ png: PNGEncoder) throws -> String {
        let uri = "data:image/png;base64," + (try png(image)).base64EncodedString()
        let double = enlarge && image.width < 400
        let small = double || max(image.width, image.height) < 160
        let size = double ? " style=\"width:\(2 * image.width)px\"" : ""
        return "<img\(small ? " class=\"px\"" : "") src=\"\(uri)\" width=\"\(image.width)\" height=\"\(image.height)\"\(size) alt=\"\(escape(alt))\">"
    }

    /// Text made safe for HTML element content and attribute values.
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    static func fileName(_ path: String) -> String { (path as NSString).lastPathComponent }

    static func grouped(_ n: Int) -> String {
        let s = String(n.magnitude)
        var out = ""
        for (i, c) in s.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + String(out.reversed())
    }
}
