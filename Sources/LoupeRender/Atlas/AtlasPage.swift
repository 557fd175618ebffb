import Foundation
import LoupeTensor

/// Writes an `AtlasContent` as one self-contained interactive HTML page: inline CSS and
/// script, every picture a PNG `data:` URI, system fonts, and a Content-Security-Policy that
/// forbids the browser any fetch (`default-src 'none'`), so the file opens offline and cannot
/// reach the network even by mistake.
///
/// The page holds:
/// - the map: each image's thumbnail at its 2-D position (each axis scaled to the box, y up),
///   outlined in its label's colour, with a legend; a switch rearranges the thumbnails on a
///   grid by `ThumbnailMosaic`'s optimal assignment. Hovering (or focusing) a thumbnail shows
///   it enlarged with its path, label and prediction in a tooltip (`#tip`); clicking it lists
///   its nearest neighbours with distance and label in the side panel (`#neighbors`) and
///   marks them on the map;
/// - the leave-one-out k-NN accuracy per class and overall;
/// - the top-patches pictures per layer;
/// - the settings.
///
/// All text is escaped (paths may hold `<`, `&` or quotes); the per-item data goes into a
/// JSON block with every `<` written `\u003c`, so no string can close the script element.
public enum AtlasPage {
    public static func render(_ c: AtlasContent) throws -> String {
        let colors = palette(c.classNames.count)
        let classIndex = Dictionary(c.classNames.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        var out = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="generator" content="\(esc(c.generator))">
            <title>\(esc(c.title))</title>
            <style>
            \(css)
            </style>
            </head>
            <body>
            <header>
            <h1>\(esc(c.title))</h1>
            <p class="sub">\(esc(c.subtitle))</p>
            <nav><a href="#map-section">Map</a><a href="#accuracy">k-NN accuracy</a><a href="#patches">Top patches</a><a href="#settings">Settings</a></nav>
            </header>
            <main>

            """
        out += mapSection(c, colors: colors, classIndex: classIndex)
        out += accuracySection(c)
        out += patchesSection(c)
        out += settingsSection(c)
        out += """
            </main>
            <div id="tip" class="tip" hidden><img id="tip-img" alt=""><div id="tip-path" class="mono"></div><div id="tip-label"></div><div id="tip-pred"></div></div>
            <footer>Made by \(esc(c.generator)). Every picture and script is in this file; it fetches nothing.</footer>
            <script type="application/json" id="atlas-data">\(try itemJSON(c))</script>
            <script>
            \(script)
            </script>
            </body>
            </html>

            """
        return out
    }

    // MARK: - Sections

    static func mapSection(_ c: AtlasContent, colors: [String], classIndex: [String: Int]) -> String {
        let xs = c.items.map(\.x), ys = c.items.map(\.y)
        func unit(_ v: [Float]) -> [Double] {
            guard let lo = v.min(), let hi = v.max(), hi > lo, lo.isFinite, hi.isFinite else { return v.map { _ in 0.5 } }
            return v.map { Double(($0 - lo) / (hi - lo)) }
        }
        let ux = unit(xs), uy = unit(ys)
        // The grid arrangement: a near-square grid by optimal assignment (at most 2,500 cells).
        let points = zip(xs, ys).flatMap { [$0.0.isFinite ? $0.0 : 0, $0.1.isFinite ? $0.1 : 0] }
        let grid = try? ThumbnailMosaic.place(points: points)
        var gridCell = [Int?](repeating: nil, count: c.items.count)
        if let grid { for (k, i) in grid.items.enumerated() { gridCell[i] = grid.cellOfItem[k] } }
        var s = """
            <section id="map-section" class="card">
            <h2>Map</h2>
            <p class="sub">\(esc(c.mapDescription)). Hover over an image to see it with its label and prediction; click it for its \(c.k) nearest neighbours (\(esc(c.distanceDescription))).</p>
            <div class="controls"><button type="button" id="view-map" class="on">positions</button><button type="button" id="view-grid"\(grid == nil ? " disabled" : "")>grid (optimal assignment\(grid.map { ", \($0.rows) × \($0.columns)" } ?? ""))</button></div>
            <div class="layout">
            <div id="map" class="map" data-rows="\(grid?.rows ?? 1)" data-columns="\(grid?.columns ?? 1)" role="group" aria-label="map of the images">

            """
        for (i, item) in c.items.enumerated() {
            let left = 3 + 94 * ux[i], top = 3 + 94 * (1 - uy[i])
            var gx = "", gy = ""
            if let grid, let cell = gridCell[i] {
                gx = String(format: "%.3f", 100 * Double(cell % grid.columns) / Double(grid.columns))
                gy = String(format: "%.3f", 100 * Double(cell / grid.columns) / Double(grid.rows))
            }
            let color = item.label.flatMap { classIndex[$0] }.map { colors[$0] } ?? "#888"
            s += "<img class=\"pt\" tabindex=\"0\" data-i=\"\(i)\" data-x=\"\(String(format: "%.3f", left))\" data-y=\"\(String(format: "%.3f", top))\""
            s += gx.isEmpty ? "" : " data-gx=\"\(gx)\" data-gy=\"\(gy)\""
            s += " style=\"left:\(String(format: "%.3f", left))%;top:\(String(format: "%.3f", top))%;border-color:\(color)\""
            s += " alt=\"\(esc(item.path))\" src=\"data:image/png;base64,\(item.thumbnailPNG.base64EncodedString())\">\n"
        }
        s += "</div>\n<aside id=\"neighbors\" class=\"panel\" aria-live=\"polite\"><h3>Nearest neighbours</h3><p class=\"sub\">Click an image on the map.</p></aside>\n</div>\n"
        if !c.classNames.isEmpty {
            s += "<ul class=\"legend\">"
            for (k, name) in c.classNames.enumerated() {
                s += "<li><span class=\"sw\" style=\"background:\(colors[k])\"></span>\(esc(name))</li>"
            }
            if c.items.contains(where: { $0.label.flatMap { classIndex[$0] } == nil }) {
                s += "<li><span class=\"sw\" style=\"background:#888\"></span>no label</li>"
            }
            s += "</ul>\n"
        }
        return s + "</section>\n"
    }

    static func accuracySection(_ c: AtlasContent) -> String {
        var s = "<section id=\"accuracy\" class=\"card\">\n<h2>k-NN accuracy</h2>\n"
        guard let overall = c.overall, overall.total > 0 else {
            return s + "<p class=\"note\">No image has a label, so there is no accuracy to show (label the images, e.g. by their folders).</p>\n</section>\n"
        }
        s += "<p class=\"sub\">Leave-one-out: each labelled image is classified by the majority label of its \(c.k) nearest neighbours (\(esc(c.distanceDescription)); a tie goes to the nearest neighbour's label).</p>\n"
        s += "<table id=\"accuracy-table\"><thead><tr><th>class</th><th class=\"num\">correct</th><th class=\"num\">images</th><th class=\"num\">accuracy</th><th></th></tr></thead>\n<tbody>\n"
        func row(_ a: AtlasContent.ClassAccuracy, total: Bool) -> String {
            let acc = a.total > 0 ? Double(a.correct) / Double(a.total) : 0
            let pct = String(format: "%.1f %%", 100 * acc)
            return "<tr\(total ? " class=\"total\"" : "")><td>\(esc(a.name))</td><td class=\"num\">\(a.correct)</td><td class=\"num\">\(a.total)</td><td class=\"num\">\(a.total > 0 ? pct : "–")</td><td class=\"bar\"><span style=\"width:\(String(format: "%.1f", 100 * acc))%\"></span></td></tr>\n"
        }
        for a in c.accuracy { s += row(a, total: false) }
        s += row(overall, total: true)
        return s + "</tbody></table>\n</section>\n"
    }

    static func patchesSection(_ c: AtlasContent) -> String {
        var s = "<section id=\"patches\" class=\"card\">\n<h2>Top patches</h2>\n"
        if c.patches.isEmpty {
            return s + "<p class=\"note\">\(esc(c.patchesNote ?? "No top patches."))</p>\n</section>\n"
        }
        s += "<p class=\"sub\">Per layer, the image patches (each unit's receptive field) that excite the most active channels the most, one row per channel.</p>\n"
        for p in c.patches {
            s += "<figure><img class=\"px\" src=\"data:image/png;base64,\(p.png.base64EncodedString())\" alt=\"top patches of \(esc(p.layer))\"><figcaption><b class=\"mono\">\(esc(p.layer))</b> \(esc(p.caption))</figcaption></figure>\n"
        }
        return s + "</section>\n"
    }

    static func settingsSection(_ c: AtlasContent) -> String {
        var s = "<section id=\"settings\" class=\"card\">\n<h2>Settings</h2>\n<dl class=\"facts\">\n"
        for (k, v) in c.settings { s += "<dt>\(esc(k))</dt><dd>\(esc(v))</dd>\n" }
        return s + "</dl>\n</section>\n"
    }

    // MARK: - Data for the script

    struct ItemRecord: Encodable {
        var p: String
        var l: String?
        var c: String?
        var q: Double?
        var n: [Int]
        var d: [Double]
    }

    /// The items as JSON for the script (path, label, prediction, probability, neighbours,
    /// distances), with `<` escaped so that the data cannot end its script element.
    static func itemJSON(_ c: AtlasContent) throws -> String {
        for (i, item) in c.items.enumerated() {
            guard item.neighbors.count == item.distances.count, item.neighbors.allSatisfy({ (0..<c.items.count).contains($0) }) else {
                throw LoupeError(.invalidArgument, "atlas: item \(i) (\(item.path)) has \(item.neighbors.count) neighbours for \(item.distances.count) distances, or one out of 0..<\(c.items.count)")
            }
        }
        let records = c.items.map {
            ItemRecord(p: $0.path, l: $0.label, c: $0.predicted, q: $0.probability.map { ($0 * 1e4).rounded() / 1e4 }, n: $0.neighbors,
                       d: $0.distances.map { $0.isFinite ? Double(String(format: "%.5g", $0))! : -1 })
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let json = String(decoding: try enc.encode(["items": records]), as: UTF8.self)
        return json.replacingOccurrences(of: "<", with: "\\u003c").replacingOccurrences(of: ">", with: "\\u003e")
            .replacingOccurrences(of: "&", with: "\\u0026")
    }

    // MARK: - Helpers

    /// `count` distinct colours (golden-angle hues), as CSS hsl().
    static func palette(_ count: Int) -> [String] {
        (0..<count).map { k in
            let hue = (Double(k) * 137.508).truncatingRemainder(dividingBy: 360)
            return String(format: "hsl(%.0f, 70%%, %d%%)", hue, k % 2 == 0 ? 45 : 35)
        }
    }

    static func esc(_ s: String) -> String { ReportHTML.escape(s) }
}
