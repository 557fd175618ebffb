import Foundation
import LoupeTensor
import LoupeTestSupport
import XCTest

@testable import LoupeFormats

/// `loupe neighbors` on the penultimate features of shapes-gap.onnx over the 120 shapes test
/// images, copied into one folder per class (from annotations.json) and labelled by folder:
/// the known answer (leave-one-out kNN accuracy at least 95 %, and equal to a brute-force count
/// here), item and image queries against a brute-force float64 ranking, the grid, the refusals;
/// and a synthetic labelled file against numpy's float64 answers (Fixtures/neighbors).
final class NeighborsCLITests: XCTestCase {
    static let shapes = CLITests.root.appendingPathComponent("SampleModels/shapes")
    static let gap = shapes.appendingPathComponent("shapes-gap.onnx").path
    static let vgg = shapes.appendingPathComponent("shapes-vgg.onnx").path

    /// The folder with `images/<class>/<file>.png` and `feats.h5`, made once for the class.
    nonisolated(unsafe) static var folder: String?

    override class func tearDown() {
        if let folder { try? FileManager.default.removeItem(atPath: folder) }
        folder = nil
        super.tearDown()
    }

    func loupe(_ args: [String]) throws -> CLITests.Result { try CLITests.run(args) }

    /// The labelled features file (written on first use).
    func featuresFile() throws -> String {
        if let folder = Self.folder { return "\(folder)/feats.h5" }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-neighbors-\(UUID().uuidString)").path
        let test = Self.shapes.appendingPathComponent("test").path
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(test)/annotations.json"))
        let images = try XCTUnwrap((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["images"] as? [[String: Any]])
        for entry in images {
            let file = try XCTUnwrap(entry["file"] as? String), name = try XCTUnwrap(entry["name"] as? String)
            try FileManager.default.createDirectory(atPath: "\(dir)/images/\(name)", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "\(test)/\(file)", toPath: "\(dir)/images/\(name)/\(file)")
        }
        Self.folder = dir
        let r = try loupe(["features", Self.gap, "\(dir)/images", "--labels-from-folders", "--preprocess", "none", "-o", "\(dir)/feats.h5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return "\(dir)/feats.h5"
    }

    func json(_ r: CLITests.Result, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], file: file, line: line)
    }

    func neighbors(_ q: [String: Any]) throws -> [[String: Any]] { try XCTUnwrap(q["neighbors"] as? [[String: Any]]) }

    /// Brute force over the file's rows: every other item's float64 cosine distance
    /// (1 − q·x / √(‖q‖²‖x‖²), sums as the library adds them), sorted by distance then index.
    func bruteForce(_ c: FeatureFile.Contents, query q: Int) -> [(index: Int, distance: Double)] {
        let d = c.dimension
        // Eight partial sums (term i to sum i mod 8), added left to right: the library's order.
        func dot(_ a: Int, _ b: Int) -> Double {
            var lane = [Double](repeating: 0, count: 8)
            for i in 0..<d { lane[i % 8] += Double(c.features[a * d + i]) * Double(c.features[b * d + i]) }
            return lane.dropFirst().reduce(lane[0], +)
        }
        return (0..<c.rows).filter { $0 != q }
            .map { ($0, 1 - dot(q, $0) / (dot(q, q) * dot($0, $0)).squareRoot()) }
            .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
    }

    func testLeaveOneOutAccuracyOnTheShapesSetIsAtLeast95Percent() throws {
        let feats = try featuresFile()
        let contents = try FeatureFile.read(feats)
        XCTAssertEqual(contents.header.labelNames, ["circle", "cross", "ring", "square", "star", "triangle"])
        for metric in ["cosine", "l2"] {
            let out = try json(try loupe(["neighbors", feats, "--all", "--json", "-k", "5", "--metric", metric]))
            let accuracy = try XCTUnwrap(out["accuracy"] as? Double), correct = try XCTUnwrap(out["correct"] as? Int)
            print("leave-one-out 5-NN accuracy (\(metric)) of shapes-gap's penultimate features: \(accuracy) (\(correct) of 120)")
            XCTAssertGreaterThanOrEqual(accuracy, 0.95, metric)
            XCTAssertEqual(out["labelled"] as? Int, 120)
            let perClass = try XCTUnwrap(out["per_class"] as? [[String: Any]])
            XCTAssertEqual(perClass.compactMap { $0["label_name"] as? String }, contents.header.labelNames)
            XCTAssertEqual(perClass.compactMap { $0["total"] as? Int }, [Int](repeating: 20, count: 6))
            XCTAssertEqual(perClass.compactMap { $0["correct"] as? Int }.reduce(0, +), correct)
            if metric == "cosine" {
                // The same count from a brute-force ranking and vote written here.
                var expected = 0
                for q in 0..<120 {
                    let top = bruteForce(contents, query: q).prefix(5).map { Int(contents.labels[$0.index]) }
                    var counts: [Int: Int] = [:]
                    for l in top { counts[l, default: 0] += 1 }
                    let best = counts.values.max()!
                    if top.first(where: { counts[$0] == best }) == Int(contents.labels[q]) { expected += 1 }
                }
                XCTAssertEqual(correct, expected)
            }
        }
        let text = try loupe(["neighbors", feats, "--all"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("leave-one-out 5-NN accuracy (cosine)"), text.stdout)
        XCTAssertTrue(text.stdout.contains("triangle"), text.stdout)
    }

    /// `loupe neighbors` on a synthetic labelled file against numpy's float64 brute force
    /// (Scripts/fixtures/make-neighbors-fixtures.py): neighbour lists (a duplicate row included)
    /// and the leave-one-out vote counts, overall and per class, with unlabelled items left out.
    func testAgreesWithNumpyFloat64BruteForce() throws {
        let dir = CLITests.fixtures.appendingPathComponent("neighbors")
        let feats = dir.appendingPathComponent("labelled.h5").path
        let data = try Data(contentsOf: dir.appendingPathComponent("expected.json"))
        let expected = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let queries = try XCTUnwrap(expected["queries"] as? [String: [String: [[String: Any]]]])
        let accuracy = try XCTUnwrap(expected["accuracy"] as? [String: [String: Any]])
        for metric in ["l2", "cosine"] {
            let want = try XCTUnwrap(queries[metric])
            let names = want.keys.sorted()
            let out = try json(try loupe(["neighbors", feats] + names + ["-k", "8", "--metric", metric, "--json"]))
            let got = try XCTUnwrap(out["queries"] as? [[String: Any]])
            XCTAssertEqual(got.compactMap { $0["query"] as? String }, names)
            for q in got {
                let name = try XCTUnwrap(q["query"] as? String)
                let list = try neighbors(q), ref = try XCTUnwrap(want[name])
                XCTAssertEqual(list.compactMap { $0["index"] as? Int }, ref.compactMap { $0["index"] as? Int }, "\(metric) \(name)")
                for (a, b) in zip(list, ref) {
                    let x = try XCTUnwrap(a["distance"] as? Double), y = try XCTUnwrap(b["distance"] as? Double)
                    XCTAssertEqual(x, y, accuracy: 1e-12 * max(1, abs(y)), "\(metric) \(name)")
                }
            }
            for k in [1, 3, 7] {
                let ref = try XCTUnwrap(accuracy["\(metric) \(k)"])
                let out = try json(try loupe(["neighbors", feats, "--all", "--json", "-k", "\(k)", "--metric", metric]))
                XCTAssertEqual(out["correct"] as? Int, ref["correct"] as? Int, "\(metric) k=\(k)")
                XCTAssertEqual(out["labelled"] as? Int, 380)
                XCTAssertEqual(out["items"] as? Int, 400)
                let perClass = try XCTUnwrap(out["per_class"] as? [[String: Any]])
                let refClass = try XCTUnwrap(ref["per_class"] as? [[String: Any]])
                XCTAssertEqual(perClass.compactMap { $0["correct"] as? Int }, refClass.compactMap { $0["correct"] as? Int }, "\(metric) k=\(k)")
                XCTAssertEqual(perClass.compactMap { $0["total"] as? Int }, refClass.compactMap { $0["total"] as? Int })
            }
        }
    }

    func testItemQueriesNeverReturnThemselvesAndFollowTheBruteForceOrder() throws {
        let feats = try featuresFile()
        let contents = try FeatureFile.read(feats)
        let out = try json(try loupe(["neighbors", feats, "#0", "#57", "#119", "-k", "119", "--json"]))
        XCTAssertEqual(out["metric"] as? String, "cosine")
        XCTAssertEqual(out["k"] as? Int, 119)
        let queries = try XCTUnwrap(out["queries"] as? [[String: Any]])
        XCTAssertEqual(queries.compactMap { $0["query"] as? String }, ["#0", "#57", "#119"])
        for (q, item) in zip(queries, [0, 57, 119]) {
            let list = try neighbors(q)
            XCTAssertEqual(list.count, 119)
            let want = bruteForce(contents, query: item)
            XCTAssertEqual(list.compactMap { $0["index"] as? Int }, want.map(\.index))
            XCTAssertFalse(list.contains { $0["index"] as? Int == item })
            for (n, w) in zip(list, want) {
                XCTAssertEqual(try XCTUnwrap(n["distance"] as? Double), w.distance, accuracy: 1e-15)
                let index = w.index, label = Int(contents.labels[index])
                XCTAssertEqual(n["path"] as? String, contents.paths[index])
                XCTAssertEqual(n["label"] as? Int, label)
                XCTAssertEqual(n["label_name"] as? String, contents.header.labelNames![label])
            }
        }
        let text = try loupe(["neighbors", feats, "#0", "-k", "3"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.hasPrefix("query #0 \(contents.paths[0]) (circle): 3 nearest by cosine distance"), text.stdout)
        XCTAssertEqual(text.stdout.split(separator: "\n").count, 4, text.stdout)
    }

    func testAnImageQueryEqualsTheItemQueryOfTheSameImage() throws {
        let feats = try featuresFile()
        let contents = try FeatureFile.read(feats)
        for metric in ["cosine", "l2"] {
            let image = try json(try loupe(["neighbors", feats, contents.paths[33], "-k", "6", "--json", "--metric", metric]))
            let item = try json(try loupe(["neighbors", feats, "#33", "-k", "5", "--json", "--metric", metric]))
            let a = try neighbors(try XCTUnwrap((image["queries"] as? [[String: Any]])?.first))
            let b = try neighbors(try XCTUnwrap((item["queries"] as? [[String: Any]])?.first))
            XCTAssertEqual(a.first?["index"] as? Int, 33, metric)
            // The query runs at batch 1, the file's rows at batch 16: with Winograd (AVX-512) the
            // features differ by rounding (1.6e-6 in l2 seen), so the distances agree to 1e-5.
            XCTAssertEqual(try XCTUnwrap(a.first?["distance"] as? Double), 0, accuracy: 1e-5, metric)
            XCTAssertEqual(a.dropFirst().compactMap { $0["index"] as? Int }, b.compactMap { $0["index"] as? Int }, metric)
            let da = a.dropFirst().compactMap { $0["distance"] as? Double }, db = b.compactMap { $0["distance"] as? Double }
            XCTAssertEqual(da.count, db.count, metric)
            for (x, y) in zip(da, db) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(y)), metric) }
        }
    }

    func testAnotherModelIsRefusedNamingBothHashes() throws {
        let feats = try featuresFile()
        let contents = try FeatureFile.read(feats)
        let r = try loupe(["neighbors", feats, contents.paths[0], "--model", Self.vgg])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains(try SHA256.hex(ofFile: Self.vgg)), r.stderr)
        XCTAssertTrue(r.stderr.contains(try SHA256.hex(ofFile: Self.gap)), r.stderr)
        XCTAssertTrue(r.stdout.isEmpty)
        // The right model given by --model is accepted.
        XCTAssertEqual(try loupe(["neighbors", feats, contents.paths[0], "--model", Self.gap]).status, 0)
    }

    func testBadArguments() throws {
        let feats = try featuresFile()
        let contents = try FeatureFile.read(feats)
        var r = try loupe(["neighbors", feats, "#0", "-k", "120"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("has 120 items, so an item query (#I) has at most 119"), r.stderr)
        r = try loupe(["neighbors", feats, contents.paths[0], "-k", "121"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("has 120 items"), r.stderr)
        XCTAssertEqual(try loupe(["neighbors", feats, contents.paths[0], "-k", "120"]).status, 0)
        r = try loupe(["neighbors", feats, "--all", "-k", "120"])
        XCTAssertTrue(r.status != 0 && r.stderr.contains("120 labelled items, so each has at most 119"), r.stderr)
        r = try loupe(["neighbors", feats, "#999"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("query #999: \(feats) has 120 items (#0 to #119)"), r.stderr)
        r = try loupe(["neighbors", feats, "#-1"])
        XCTAssertTrue(r.status != 0 && r.stderr.contains("non-negative item index"), r.stderr)
        r = try loupe(["neighbors", feats, "#0", "--metric", "manhattan"])
        XCTAssertTrue(r.status != 0 && r.stderr.contains("--metric must be cosine or l2, got 'manhattan'"), r.stderr)
        r = try loupe(["neighbors", feats, "#0", "-k", "0"])
        XCTAssertTrue(r.status != 0 && r.stderr.contains("-k must be at least 1"), r.stderr)
        r = try loupe(["neighbors", feats])
        XCTAssertTrue(r.status != 0 && r.stderr.contains("give at least one query"), r.stderr)
        r = try loupe(["neighbors", feats, "#0", "--all"])
        XCTAssertTrue(r.status != 0 && r.stderr.contains("give no QUERY"), r.stderr)
        r = try loupe(["neighbors", Self.gap, "#0"])
        XCTAssertEqual(r.status, 1, r.stderr)

        // --all needs labels.
        let dir = try TemporaryFolder.make("loupe-neighbors", for: self).path
        let test = Self.shapes.appendingPathComponent("test").path
        XCTAssertEqual(try loupe(["features", Self.gap, test, "--preprocess", "none", "-o", "\(dir)/plain.h5"]).status, 0)
        r = try loupe(["neighbors", "\(dir)/plain.h5", "--all"])
        XCTAssertTrue(r.status == 1 && r.stderr.contains("has no labels"), r.stderr)
        let plain = try json(try loupe(["neighbors", "\(dir)/plain.h5", "#1", "-k", "1", "--json"]))
        let first = try neighbors(try XCTUnwrap((plain["queries"] as? [[String: Any]])?.first))[0]
        XCTAssertEqual(first["label"] as? Int, -1)
        XCTAssertTrue(first["label_name"] is NSNull, "\(first)")
    }

    /// Panel layout: margin 12, gap 12; a tile is the 96-pixel thumbnail square, 4 pixels and
    /// two 11-pixel caption lines (122 pixels tall).
    func testGridHasARowPerQueryAndTheQueryThenKNeighbours() throws {
        let feats = try featuresFile()
        let contents = try FeatureFile.read(feats)
        let dir = try TemporaryFolder.make("loupe-neighbors", for: self).path
        let grid = "\(dir)/grid.png"
        let r = try loupe(["neighbors", feats, "#0", contents.paths[40], "#100", "-k", "4", "-o", grid])
        XCTAssertEqual(r.status, 0, r.stderr)
        let image = try ImageIO.read(path: grid)
        XCTAssertEqual(image.width, 2 * 12 + 5 * 96 + 4 * 12)
        XCTAssertEqual(image.height, 2 * 12 + 3 * 122 + 2 * 12)
        // Each row's first tile, the query, has a red frame 2 pixels wide around its square.
        for row in 0..<3 {
            let y0 = 12 + row * (122 + 12)
            for (y, x) in [(y0, 12 + 50), (y0 + 50, 12), (y0 + 95, 12 + 50), (y0 + 50, 12 + 94)] {
                XCTAssertEqual(image[y, x, 0], 0.85, accuracy: 0.01)
                XCTAssertEqual(image[y, x, 1], 0.2, accuracy: 0.01)
            }
        }
        let again = try loupe(["neighbors", feats, "#0", "-o", grid])
        XCTAssertTrue(again.status == 1 && again.stderr.contains("pass --force"), again.stderr)
        XCTAssertEqual(try ImageIO.read(path: grid), image)
        XCTAssertEqual(try loupe(["neighbors", feats, "#0", "-o", grid, "--force", "-k", "2"]).status, 0)
        XCTAssertEqual(try ImageIO.read(path: grid).width, 2 * 12 + 3 * 96 + 2 * 12)
    }
}
