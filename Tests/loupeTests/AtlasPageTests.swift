import Foundation
import LoupeFormats
import LoupeRender
import LoupeTensor
import LoupeTestSupport
import XCTest

/// The atlas page (`AtlasPage.render`) built from real data of the shapes sample set (features
/// from `loupe features`, predictions from `loupe predict`, neighbours computed here), opened
/// in headless Chromium: every picture decodes, nothing is fetched, no script error, and one
/// scripted hover and one scripted click show the right texts and neighbours.
final class AtlasPageTests: XCTestCase {
    static let shapes = CLITests.root.appendingPathComponent("SampleModels/shapes")
    static let gap = shapes.appendingPathComponent("shapes-gap.onnx").path
    static let test = shapes.appendingPathComponent("test").path
    static let labels = shapes.appendingPathComponent("labels.txt").path

    /// What the page did in the browser (the checker script's report).
    struct BrowserResult: Decodable {
        var decoded: Int
        var total: Int
        /// Resources the page fetched (performance entries: any network request).
        var resources: [String]
        var tipShown: Bool
        var tipHiddenAfterLeave: Bool
        var tipPath: String
        var tipLabel: String
        var tipPred: String
        var panelFor: String
        var neighbors: [Int]
        var neighborTexts: [String]
        var marked: Int
        var pwned: Bool
        var console: [String]?
    }

    /// Opens `html` in headless Chromium with a checker appended: after load it counts decoded
    /// images, lists resource timing entries, hovers map item `hover`, then leaves it, clicks
    /// item `click`, and writes what it saw as base64 JSON into the DOM, which `--dump-dom` prints.
    static func openInChromium(_ html: String, dir: URL, hover: Int, click: Int) throws -> BrowserResult {
        let browser = try XCTUnwrap(ReportTests.chromium, "chromium is not installed (Scripts/test.sh installs Debian's chromium)")
        let checker = """
            <script>window.addEventListener("load", function () {
              var r = {};
              var im = document.images, ok = 0;
              for (var i = 0; i < im.length; i++) if (im[i].complete && im[i].naturalWidth > 0 && im[i].naturalHeight > 0) ok++;
              r.decoded = ok; r.total = im.length;
              r.resources = performance.getEntriesByType("resource").map(function (e) { return e.name; });
              var pts = document.querySelectorAll("#map img.pt");
              var tip = document.getElementById("tip");
              pts[\(hover)].dispatchEvent(new MouseEvent("mouseover", {bubbles: true, clientX: 200, clientY: 200}));
              r.tipShown = !tip.hidden;
              r.tipPath = document.getElementById("tip-path").textContent;
              r.tipLabel = document.getElementById("tip-label").textContent;
              r.tipPred = document.getElementById("tip-pred").textContent;
              pts[\(hover)].dispatchEvent(new MouseEvent("mouseout", {bubbles: true}));
              r.tipHiddenAfterLeave = tip.hidden;
              pts[\(click)].dispatchEvent(new MouseEvent("click", {bubbles: true}));
              r.panelFor = document.getElementById("neighbors").getAttribute("data-i") || "";
              var li = document.querySelectorAll("#nb-list li");
              r.neighbors = Array.prototype.map.call(li, function (e) { return Number(e.getAttribute("data-i")); });
              r.neighborTexts = Array.prototype.map.call(li, function (e) { return e.textContent; });
              r.marked = document.querySelectorAll("#map img.pt.nb").length;
              r.pwned = window.pwned === 1;
              var out = document.createElement("pre");
              out.id = "loupe-atlas-check";
              out.textContent = "ATLAS-CHECK:" + btoa(unescape(encodeURIComponent(JSON.stringify(r)))) + ":END";
              document.body.appendChild(out);
            });</script>
            """
        let page = dir.appendingPathComponent("checked-\(UUID().uuidString).html")
        _ = try XCTUnwrap(html.range(of: "</body>"), "no </body>")
        try html.replacingOccurrences(of: "</body>", with: checker + "</body>").write(to: page, atomically: true, encoding: .utf8)
        let profile = dir.appendingPathComponent("chromium-profile-\(UUID().uuidString)")
        let r = try LoupeBinary.run(executable: browser, ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile.path)",
                                                         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", "--dump-dom", page.absoluteString],
                                    timeout: 120)
        XCTAssertEqual(r.status, 0, r.stderr)
        let range = try XCTUnwrap(r.stdout.range(of: #"ATLAS-CHECK:[A-Za-z0-9+/=]+:END"#, options: .regularExpression),
                                  "the checker did not run: \(r.stderr.suffix(2000))")
        let b64 = r.stdout[range].dropFirst("ATLAS-CHECK:".count).dropLast(":END".count)
        var result = try JSONDecoder().decode(BrowserResult.self, from: try XCTUnwrap(Data(base64Encoded: String(b64))))
        result.console = r.stderr.split(separator: "\n").map(String.init).filter { $0.contains(":CONSOLE") || $0.contains("Uncaught") }
        return result
    }

    /// Exact k nearest neighbours (Euclidean, float64, ties by index, self excluded).
    static func nearest(_ f: [Float], dimension d: Int, k: Int) -> [[(Int, Double)]] {
        let n = f.count / d
        var out: [[(Int, Double)]] = []
        for i in 0..<n {
            var all: [(Int, Double)] = []
            for j in 0..<n where j != i {
                var s = 0.0
                for c in 0..<d {
                    let t = Double(f[i * d + c]) - Double(f[j * d + c])
                    s += t * t
                }
                all.append((j, s.squareRoot()))
            }
            all.sort { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
            out.append(Array(all.prefix(k)))
        }
        return out
    }

    struct Prediction: Decodable {
        struct Entry: Decodable { var label: String?; var probability: Double }
        var image: String
        var predictions: [Entry]
    }

    func testPageFromShapesDataInChromium() throws {
        let dir = try TemporaryFolder.make("loupe-atlas-page", for: self)
        // 5 images per class.
        let all = try FileManager.default.contentsOfDirectory(atPath: Self.test).filter { $0.hasSuffix(".png") }.sorted()
        let chosen = Array(all.prefix(30)).map { (Self.test as NSString).appendingPathComponent($0) }
        let feats = dir.appendingPathComponent("f.h5").path
        let f = try LoupeBinary.run(["features", Self.gap] + chosen + ["--preprocess", "none", "-o", feats], timeout: 120)
        XCTAssertEqual(f.status, 0, f.stderr)
        let contents = try FeatureFile.read(feats)
        XCTAssertEqual(contents.paths, chosen)
        let p = try LoupeBinary.run(["predict", Self.gap] + chosen + ["--preprocess", "none", "--labels", Self.labels, "--top", "1", "--json"], timeout: 120)
        XCTAssertEqual(p.status, 0, p.stderr)
        let preds = try JSONDecoder().decode([Prediction].self, from: Data(p.stdout.utf8))
        XCTAssertEqual(preds.map(\.image), chosen)

        let k = 4
        let nn = Self.nearest(contents.features, dimension: contents.dimension, k: k)
        var items: [AtlasContent.Item] = []
        for (i, path) in chosen.enumerated() {
            let thumb = try ThumbnailMosaic.thumbnail(try ImageIO.read(path: path), width: 48, height: 48)
            let label = String((path as NSString).lastPathComponent.dropFirst(4).dropLast(4))
            // A test-only projection: the first two feature values.
            items.append(AtlasContent.Item(path: path, thumbnailPNG: try ImageIO.pngData(thumb), label: label,
                                           predicted: preds[i].predictions[0].label, probability: preds[i].predictions[0].probability,
                                           x: contents.row(i).first!, y: contents.row(i).dropFirst().first!,
                                           neighbors: nn[i].map(\.0), distances: nn[i].map(\.1)))
        }
        // A hostile path: it must show as text, never run.
        let hostile = "odd/<img src=x onerror=\"window.pwned=1\">&'.png"
        items[7].path = hostile
        let mosaic = try ThumbnailMosaic.render(try ThumbnailMosaic.place(points: items.flatMap { [$0.x, $0.y] }), cellSize: 16) {
            try ImageIO.read(path: chosen[$0])
        }
        let content = AtlasContent(
            title: "Atlas <test> & \"quotes\"", subtitle: "30 shapes", mapDescription: "first two features", distanceDescription: "Euclidean",
            items: items, classNames: ["circle", "square", "triangle", "star", "cross", "ring"], k: k,
            accuracy: [.init(name: "circle", correct: 4, total: 5)], overall: .init(name: "all", correct: 4, total: 5),
            patches: [.init(layer: "/8/Relu", png: try ImageIO.pngData(mosaic), caption: "a mosaic standing in for patches")],
            settings: [("k", "\(k)")], generator: "Loupe test")
        let html = try AtlasPage.render(content)
        // Static: no reference to the network, the hostile text escaped.
        XCTAssertFalse(html.contains("http://") || html.contains("https://") || html.contains("src=\"//"), "the page must not reference the network")
        XCTAssertFalse(html.contains("<link"))
        XCTAssertFalse(html.contains("<img src=x"), "an unescaped path")
        XCTAssertTrue(html.contains("Atlas &lt;test&gt; &amp; &quot;quotes&quot;"))
        XCTAssertTrue(html.contains("default-src 'none'"))
        XCTAssertEqual(html.components(separatedBy: "<img class=\"pt\"").count - 1, 30)

        let hover = 12, click = 7
        let r = try Self.openInChromium(html, dir: dir, hover: hover, click: click)
        // Map thumbnails, the tooltip image (no src until the hover), the patches picture.
        XCTAssertEqual(r.total, 30 + 1 + 1)
        XCTAssertEqual(r.decoded, 30 + 1, "some pictures did not decode")
        XCTAssertEqual(r.resources, [], "the page fetched something")
        XCTAssertEqual(r.console ?? [], [], "console messages while loading the atlas")
        XCTAssertTrue(r.tipShown)
        XCTAssertTrue(r.tipHiddenAfterLeave)
        XCTAssertEqual(r.tipPath, chosen[hover])
        XCTAssertEqual(r.tipLabel, "label: \(items[hover].label!)")
        XCTAssertEqual(r.tipPred, String(format: "prediction: %@ (%.1f %%)", preds[hover].predictions[0].label!, 100 * preds[hover].predictions[0].probability))
        XCTAssertEqual(r.panelFor, "\(click)")
        XCTAssertEqual(r.neighbors, nn[click].map(\.0))
        XCTAssertEqual(r.marked, k)
        XCTAssertFalse(r.pwned, "the hostile path ran as HTML")
        for (t, j) in zip(r.neighborTexts, nn[click].map(\.0)) {
            XCTAssertTrue(t.contains("#\(j) \(items[j].path)"), t)
            XCTAssertTrue(t.contains("label: \(items[j].label!)"), t)
        }
        // The hostile item shows its path as text in the tooltip.
        XCTAssertEqual(try Self.openInChromium(html, dir: dir, hover: click, click: click).tipPath, hostile)
        // The checks catch a fetch: an image from the network is blocked by the page's policy
        // and reported (as a console line, a resource entry or an undecoded picture).
        let leaky = html.replacingOccurrences(of: "</main>", with: "<img src=\"http://127.0.0.1:9/x.png\" alt=\"\"></main>")
        let l = try Self.openInChromium(leaky, dir: dir, hover: hover, click: click)
        XCTAssertEqual(l.decoded, 31)
        XCTAssertTrue(!(l.console ?? []).isEmpty || !l.resources.isEmpty, "a network image went unnoticed")
    }
}
