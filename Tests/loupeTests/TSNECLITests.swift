import Foundation
import LoupeFormats
import LoupeRender
import LoupeTensor
import XCTest

/// `loupe tsne` on the penultimate features of the shapes sample model (`loupe features
/// shapes-gap.onnx --preprocess none`, the 120 test images in one folder per class): the known
/// answer of issue 15 point 8 (the 2-D map separates the classes: leave-one-out 5-NN accuracy
/// in the embedding at least 90 %), the outputs (PNG, .npy, JSON), the same map for 1 and 2
/// threads, and the refusals.
final class TSNECLITests: XCTestCase {
    static let shapes = CLITests.root.appendingPathComponent("SampleModels/shapes")

    func loupe(_ args: [String]) throws -> CLITests.Result { try CLITests.run(args) }

    func tempDir() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-tsne-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: d) }
        return d.path
    }

    /// The test images copied into one folder per class (the class is the file name after
    /// the dash), then their features with labels from the folders.
    func shapesFeatures(_ dir: String) throws -> String {
        let fm = FileManager.default
        let test = Self.shapes.appendingPathComponent("test").path
        for f in try fm.contentsOfDirectory(atPath: test) where f.hasSuffix(".png") {
            let cls = String(f.dropLast(4).split(separator: "-").last!)
            try fm.createDirectory(atPath: "\(dir)/images/\(cls)", withIntermediateDirectories: true)
            try fm.copyItem(atPath: "\(test)/\(f)", toPath: "\(dir)/images/\(cls)/\(f)")
        }
        let out = "\(dir)/feats.h5"
        let r = try loupe(["features", Self.shapes.appendingPathComponent("shapes-gap.onnx").path, "\(dir)/images",
                           "--preprocess", "none", "--labels-from-folders", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        return out
    }

    /// Leave-one-out k-NN accuracy in the plane: majority vote of the k nearest others'
    /// labels, a tie going to the nearest neighbour's label (issue 15's convention).
    static func leaveOneOutAccuracy(_ e: [Float], labels: [Int32], k: Int) -> Double {
        let n = labels.count
        var correct = 0
        for i in 0..<n {
            let order = (0..<n).filter { $0 != i }.sorted {
                let a = pow(Double(e[2 * $0] - e[2 * i]), 2) + pow(Double(e[2 * $0 + 1] - e[2 * i + 1]), 2)
                let b = pow(Double(e[2 * $1] - e[2 * i]), 2) + pow(Double(e[2 * $1 + 1] - e[2 * i + 1]), 2)
                return a < b || (a == b && $0 < $1)
            }.prefix(k)
            var votes: [Int32: Int] = [:]
            for j in order { votes[labels[j], default: 0] += 1 }
            let top = votes.values.max()!
            let tied = Set(votes.filter { $0.value == top }.keys)
            let vote = tied.count == 1 ? tied.first! : labels[order.first { tied.contains(labels[$0]) }!]
            if vote == labels[i] { correct += 1 }
        }
        return Double(correct) / Double(n)
    }

    func testShapesMapSeparatesTheClasses() throws {
        let dir = try tempDir()
        let feats = try shapesFeatures(dir)
        let r = try loupe(["tsne", feats, "-o", "\(dir)/map.png", "--save-npy", "\(dir)/emb.npy", "--seed", "3", "--thumbnails"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("KL divergence"), r.stdout)
        XCTAssertTrue(r.stderr.contains("iteration 1000"), r.stderr)

        let file = try FeatureFile.read(feats)
        let emb = try NPY.read(path: "\(dir)/emb.npy")
        XCTAssertEqual(emb.shape, [120, 2])
        let accuracy = Self.leaveOneOutAccuracy(emb.floats, labels: file.labels, k: 5)
        print("shapes t-SNE map: leave-one-out 5-NN accuracy \(accuracy) (\(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))")
        XCTAssertGreaterThanOrEqual(accuracy, 0.9)

        let png = try ImageIO.read(path: "\(dir)/map.png")
        XCTAssertGreaterThan(png.width, 800)
        // Every class colour appears in the picture (the points and the legend).
        for k in 0..<6 {
            let c = Self.tab10[k]
            var found = false
            for p in 0..<(png.width * png.height) where !found {
                found = abs(png.pixels[3 * p] - c.0) < 0.01 && abs(png.pixels[3 * p + 1] - c.1) < 0.01 && abs(png.pixels[3 * p + 2] - c.2) < 0.01
            }
            XCTAssertTrue(found, "class \(k)'s colour")
        }

        // --thumbnails: an 11 x 11 grid of 32-pixel cells (1-pixel gaps), each point's image in
        // the cell the optimal assignment of the saved embedding gives it.
        let mosaic = try ImageIO.read(path: "\(dir)/map-thumbnails.png")
        XCTAssertEqual([mosaic.width, mosaic.height], [11 * 33 + 1, 11 * 33 + 1])
        let placement = try ThumbnailMosaic.place(points: emb.floats)
        XCTAssertEqual(placement.items, Array(0..<120))
        XCTAssertEqual(Set(placement.cellOfItem).count, 120)
        let expected = try ThumbnailMosaic.render(placement, cellSize: 32) { try ImageIO.read(path: file.paths[$0]) }
        XCTAssertEqual(mosaic.pixels.count, expected.pixels.count)
        let worst = zip(mosaic.pixels, expected.pixels).map { abs($0 - $1) }.max() ?? 1
        XCTAssertLessThanOrEqual(worst, 1.0 / 255 + 1e-6)

        // JSON, and the same embedding bit for bit on one thread.
        let j = try loupe(["tsne", feats, "--json", "--seed", "3", "--threads", "1"])
        XCTAssertEqual(j.status, 0, j.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(obj["points"] as? Int, 120)
        XCTAssertEqual(obj["iterations"] as? Int, 1000)
        XCTAssertEqual(obj["method"] as? String, "bh")
        XCTAssertEqual(obj["neighbours"] as? Int, 90)
        XCTAssertNotNil(obj["kl_divergence"] as? Double)
        let rows = obj["embedding"] as! [[Double]]
        XCTAssertEqual(rows.count, 120)
        for i in 0..<120 {
            XCTAssertEqual(Float(rows[i][0]), emb.floats[2 * i])
            XCTAssertEqual(Float(rows[i][1]), emb.floats[2 * i + 1])
        }
    }

    /// matplotlib's tab10, as 8-bit values.
    static let tab10: [(Float, Float, Float)] = [
        (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
    ].map { ($0.0 / 255, $0.1 / 255, $0.2 / 255) }

    func testRefusals() throws {
        let dir = try tempDir()
        let feats = try shapesFeatures(dir)
        var r = try loupe(["tsne", feats, "--perplexity", "50"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("at most 39.67"), r.stderr)
        r = try loupe(["tsne", feats, "--perplexity", "-1"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--perplexity"), r.stderr)
        r = try loupe(["tsne", feats, "--method", "exact"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("auto, bh or fft"), r.stderr)
        r = try loupe(["tsne", feats, "-o", "\(dir)/map.jpg"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains(".png"), r.stderr)
        r = try loupe(["tsne", "\(dir)/missing.h5"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("missing.h5"), r.stderr)
        // An existing output is kept unless --force.
        try Data("keep".utf8).write(to: URL(fileURLWithPath: "\(dir)/map.png"))
        r = try loupe(["tsne", feats, "-o", "\(dir)/map.png"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--force"), r.stderr)
        XCTAssertEqual(try String(contentsOfFile: "\(dir)/map.png", encoding: .utf8), "keep")
    }

    func testEmptyFileIsRefused() throws {
        let dir = try tempDir()
        let fm = FileManager.default
        try fm.createDirectory(atPath: "\(dir)/none", withIntermediateDirectories: true)
        // An unreadable image is listed and skipped: a finished file with no rows.
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: "\(dir)/none/broken.png"))
        let f = try loupe(["features", Self.shapes.appendingPathComponent("shapes-gap.onnx").path, "\(dir)/none",
                           "--preprocess", "none", "-o", "\(dir)/empty.h5"])
        guard f.status == 0 else { return XCTFail("could not make an empty features file: \(f.stderr)") }
        let r = try loupe(["tsne", "\(dir)/empty.h5"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("no feature vectors"), r.stderr)
    }
}
