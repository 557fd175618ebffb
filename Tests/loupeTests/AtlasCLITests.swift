import Foundation
import LoupeFormats
import LoupeTestSupport
import XCTest

/// `loupe atlas` on the shapes test set sorted into class folders: the page it writes, opened
/// in headless Chromium (the checker of `AtlasPageTests`), with the hover's prediction equal to
/// `loupe predict` and the click's neighbours equal to the exact neighbours of `loupe features`.
final class AtlasCLITests: XCTestCase {
    typealias Page = AtlasPageTests

    /// 8 images per class copied into `dir/shapes/CLASS/`, in the order a folder walk gives.
    func classFolders(_ dir: URL) throws -> (root: String, paths: [String]) {
        let root = dir.appendingPathComponent("shapes")
        var byClass: [String: [String]] = [:]
        for f in try FileManager.default.contentsOfDirectory(atPath: Page.test).filter({ $0.hasSuffix(".png") }).sorted() {
            let cls = String(f.dropFirst(4).dropLast(4))
            if byClass[cls, default: []].count < 8 { byClass[cls, default: []].append(f) }
        }
        var paths: [String] = []
        for cls in byClass.keys.sorted() {
            let folder = root.appendingPathComponent(cls)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for f in byClass[cls]! {
                try FileManager.default.copyItem(atPath: (Page.test as NSString).appendingPathComponent(f), toPath: folder.appendingPathComponent(f).path)
                paths.append(folder.appendingPathComponent(f).path)
            }
        }
        return (root.path, paths)
    }

    func testAtlasOfTheShapesSetInChromium() throws {
        let dir = try TemporaryFolder.make("loupe-atlas-cli", for: self)
        let (root, paths) = try classFolders(dir)
        XCTAssertEqual(paths.count, 48)
        let out = dir.appendingPathComponent("atlas.html").path
        let k = 3
        let r = try LoupeBinary.run(["atlas", Page.gap, root, "--labels-from-folders", "--labels", Page.labels, "--preprocess", "none",
                                     "-k", "\(k)", "--metric", "l2", "--patch-layers", "2", "-o", out], timeout: 300)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("wrote \(out)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("48 images, 3-NN accuracy"), r.stdout)
        let html = try String(contentsOfFile: out, encoding: .utf8)
        XCTAssertFalse(html.contains("http://") || html.contains("https://"), "the page must not reference the network")
        XCTAssertEqual(html.components(separatedBy: "<img class=\"pt\"").count - 1, 48)
        XCTAssertEqual(html.components(separatedBy: "alt=\"top patches of ").count - 1, 2)
        for cls in ["circle", "square", "triangle", "star", "cross", "ring"] { XCTAssertTrue(html.contains("<td>\(cls)</td>"), cls) }
        XCTAssertLessThan(html.utf8.count, 1_500_000, "the page is heavier than it should be for 48 small thumbnails")

        // References (Euclidean, as asked by --metric l2): the same images through `loupe features` (the page's neighbours must be
        // their exact neighbours) and `loupe predict` (the tooltip's prediction).
        let feats = dir.appendingPathComponent("f.h5").path
        let f = try LoupeBinary.run(["features", Page.gap, root, "--preprocess", "none", "-o", feats], timeout: 120)
        XCTAssertEqual(f.status, 0, f.stderr)
        let contents = try FeatureFile.read(feats)
        XCTAssertEqual(contents.paths, paths)
        let nn = Page.nearest(contents.features, dimension: contents.dimension, k: k)
        let hover = 20, click = 33
        let p = try LoupeBinary.run(["predict", Page.gap, paths[hover], "--preprocess", "none", "--labels", Page.labels, "--top", "1", "--json"], timeout: 60)
        XCTAssertEqual(p.status, 0, p.stderr)
        let pred = try JSONDecoder().decode([Page.Prediction].self, from: Data(p.stdout.utf8))[0].predictions[0]

        let b = try Page.openInChromium(html, dir: dir, hover: hover, click: click)
        XCTAssertEqual(b.total, 48 + 1 + 2)
        XCTAssertEqual(b.decoded, 48 + 2, "some pictures did not decode")
        XCTAssertEqual(b.resources, [])
        XCTAssertEqual(b.console ?? [], [])
        XCTAssertTrue(b.tipShown)
        XCTAssertEqual(b.tipPath, paths[hover])
        XCTAssertEqual(b.tipLabel, "label: \((paths[hover] as NSString).deletingLastPathComponent.split(separator: "/").last!)")
        XCTAssertEqual(b.tipPred, String(format: "prediction: %@ (%.1f %%)", pred.label!, 100 * pred.probability))
        XCTAssertEqual(b.neighbors, nn[click].map(\.0))
        XCTAssertEqual(b.marked, k)
        for (t, (j, d)) in zip(b.neighborTexts, nn[click]) {
            XCTAssertTrue(t.contains("#\(j) \(paths[j])"), t)
            let shown = try XCTUnwrap(t.range(of: #"distance [0-9.e+-]+"#, options: .regularExpression).map { Double(t[$0].dropFirst(9))! })
            XCTAssertEqual(shown, d, accuracy: 1e-4 * d)
        }

        // Never overwrites without --force.
        let again = try LoupeBinary.run(["atlas", Page.gap, root, "--preprocess", "none", "-o", out], timeout: 120)
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("exists; pass --force"), again.stderr)
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), html)
        let forced = try LoupeBinary.run(["atlas", Page.gap, root, "--preprocess", "none", "--patch-layers", "0", "-o", out, "--force"], timeout: 120)
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertTrue(try String(contentsOfFile: out, encoding: .utf8).contains("Not asked for (--patch-layers 0)."))
    }

    func testAtlasErrors() throws {
        let dir = try TemporaryFolder.make("loupe-atlas-errors", for: self)
        let out = dir.appendingPathComponent("a.html").path
        let three = try FileManager.default.contentsOfDirectory(atPath: Page.test).filter { $0.hasSuffix(".png") }.sorted().prefix(3)
            .map { (Page.test as NSString).appendingPathComponent($0) }
        let big = try LoupeBinary.run(["atlas", Page.gap] + three + ["--preprocess", "none", "-k", "3", "-o", out], timeout: 60)
        XCTAssertEqual(big.status, 1)
        XCTAssertTrue(big.stderr.contains("-k 3 is too large: the set has 3 readable images, so at most 2 neighbours"), big.stderr)
        let zero = try LoupeBinary.run(["atlas", Page.gap] + three + ["-k", "0", "-o", out], timeout: 60)
        XCTAssertNotEqual(zero.status, 0)
        XCTAssertTrue(zero.stderr.contains("-k must be at least 1"), zero.stderr)
        let perplexity = try LoupeBinary.run(["atlas", Page.gap] + three + ["--perplexity", "-2", "-o", out], timeout: 60)
        XCTAssertNotEqual(perplexity.status, 0)
        XCTAssertTrue(perplexity.stderr.contains("--perplexity"), perplexity.stderr)
        let noFolder = try LoupeBinary.run(["atlas", Page.gap] + three + ["--preprocess", "none", "-o", dir.appendingPathComponent("no/such/a.html").path], timeout: 60)
        XCTAssertEqual(noFolder.status, 1)
        XCTAssertTrue(noFolder.stderr.contains("does not exist"), noFolder.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no page after an error")
    }
}
