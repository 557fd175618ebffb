import Foundation
import LoupeExplain
import LoupeFormats
import LoupeTensor
import LoupeTestSupport
import XCTest

/// Exercises the built `loupe` binary as a user would, on the bundled sample model, against
/// onnxruntime's outputs (Tests/loupeTests/Fixtures, made by Scripts/fixtures/make-cli-fixtures.py).
final class CLITests: XCTestCase {
    static let root = LoupeBinary.root
    static let fixtures = root.appendingPathComponent("Tests/loupeTests/Fixtures")
    static let model = root.appendingPathComponent("SampleModels/tiny-cnn/tiny-cnn.onnx").path
    static let images = root.appendingPathComponent("SampleModels/tiny-cnn/images")

    typealias Result = LoupeBinary.Result

    /// Runs the built binary (LoupeTestSupport's `LoupeBinary`); the CLI test files of this
    /// target all run it through here.
    static func run(_ args: [String], environment: [String: String] = [:], timeout: Double? = nil) throws -> Result {
        try LoupeBinary.run(args, environment: environment, timeout: timeout)
    }

    @discardableResult
    func loupe(_ args: [String]) throws -> Result { try Self.run(args) }

    func tempDir() throws -> URL { try TemporaryFolder.make("loupe-cli", for: self) }

    func testInspectCountsParametersAndMACs() throws {
        let r = try loupe(["inspect", Self.model])
        XCTAssertEqual(r.status, 0, r.stderr)
        // conv 3→16 3×3: 448, conv 16→32: 4,640, conv 32→64: 18,496, fc 64→5: 325.
        XCTAssertTrue(r.stdout.contains("parameters: 23,909"), r.stdout)
        // 64·64·16·27 + 32·32·32·144 + 16·16·64·288 + 5·64
        XCTAssertEqual(1_769_472 + 4_718_592 + 4_718_592 + 320, 11_206_976)
        XCTAssertTrue(r.stdout.contains("MACs: 11,206,976"), r.stdout)
        XCTAssertTrue(r.stdout.contains("/0/Conv"), r.stdout)
        XCTAssertTrue(r.stdout.contains("[1, 16, 64, 64]"), r.stdout)
    }

    func testInspectJSONWithInputShape() throws {
        let r = try loupe(["inspect", Self.model, "--json", "--input-shape", "input=4x3x32x32"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let inputs = try XCTUnwrap(doc["inputs"] as? [[String: Any]])
        XCTAssertEqual(inputs.first?["shape"] as? [Int], [4, 3, 32, 32])
        let outputs = try XCTUnwrap(doc["outputs"] as? [[String: Any]])
        XCTAssertEqual(outputs.first?["shape"] as? [Int], [4, 5])
        XCTAssertEqual(outputs.first?["dtype"] as? String, "float32")
        let nodes = try XCTUnwrap(doc["nodes"] as? [[String: Any]])
        XCTAssertEqual(nodes.count, 11)
        XCTAssertEqual(doc["parameters"] as? Int, 23_909)
        // MACs scale with batch and area: 4 images at a quarter of the area, same FC per image.
        let convMacs = (1_769_472 + 4_718_592 + 4_718_592) * 4 / 4
        XCTAssertEqual(doc["macs"] as? Int, convMacs + 4 * 320)
        XCTAssertEqual(nodes.reduce(0) { $0 + ($1["macs"] as! Int) }, doc["macs"] as? Int)
    }

    func testRunMatchesOnnxRuntime() throws {
        let dir = try tempDir()
        let input = Self.fixtures.appendingPathComponent("tiny-cnn-input.npy").path
        let r = try loupe(["run", Self.model, "--input", "input=\(input)", "--output-dir", dir.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let got = try NPY.read(path: dir.appendingPathComponent("logits.npy").path)
        let want = try NPY.read(path: Self.fixtures.appendingPathComponent("tiny-cnn-logits-ort.npy").path)
        XCTAssertEqual(got.shape, [2, 5])
        XCTAssertEqual(got.shape, want.shape)
        for i in 0..<want.count { XCTAssertEqual(got.floats[i], want.floats[i], accuracy: 1e-5) }

        // A second run must not overwrite the outputs without --force.
        let again = try loupe(["run", Self.model, "--input", "input=\(input)", "--output-dir", dir.path])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("exists; pass --force"), again.stderr)
    }

    func testPredictJSONMatchesOnnxRuntime() throws {
        let img = Self.images.appendingPathComponent("disc.png").path
        let labels = Self.root.appendingPathComponent("SampleModels/tiny-cnn/labels.txt").path
        let r = try loupe(["predict", Self.model, img, "--preprocess", "none", "--top", "5", "--labels", labels, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        let preds = try XCTUnwrap(doc.first?["predictions"] as? [[String: Any]])
        XCTAssertEqual(preds.count, 5)
        let want = try NPY.read(path: Self.fixtures.appendingPathComponent("disc-logits-ort.npy").path).floats
        let m = want.max()!
        let z = want.reduce(0) { $0 + exp(Double($1 - m)) }
        var total = 0.0
        for p in preds {
            let i = p["index"] as! Int
            XCTAssertEqual(p["logit"] as! Double, Double(want[i]), accuracy: 1e-5)
            XCTAssertEqual(p["probability"] as! Double, exp(Double(want[i] - m)) / z, accuracy: 1e-5)
            total += p["probability"] as! Double
        }
        XCTAssertEqual(total, 1, accuracy: 1e-5)
        XCTAssertEqual(preds.first?["index"] as? Int, want.indices.max { want[$0] < want[$1] })
        XCTAssertEqual(preds.first?["label"] as? String,
                       ["circle", "square", "triangle", "star", "cross"][want.indices.max { want[$0] < want[$1] }!])
    }

    func testFiltersWritesAGrid() throws {
        let dir = try tempDir()
        let png = dir.appendingPathComponent("f.png").path, npy = dir.appendingPathComponent("w.npy").path
        let r = try loupe(["filters", Self.model, "-o", png, "--save-npy", npy])
        XCTAssertEqual(r.status, 0, r.stderr)
        let img = try ImageIO.read(path: png)
        // 16 colour filters of 3×3 → 4×4 tiles of 48 px (scale 16) with 2 px gaps.
        XCTAssertEqual(img.width, 4 * 48 + 5 * 2)
        XCTAssertEqual(img.height, 4 * 48 + 5 * 2)
        let w = try NPY.read(path: npy)
        XCTAssertEqual(w.shape, [16, 3, 3, 3])
        // Each tile is normalised to its own range: its brightest sample is 1.0.
        let tile0 = (2..<50).flatMap { y in (2..<50).flatMap { x in (0..<3).map { img[y, x, $0] } } }
        XCTAssertEqual(tile0.max()!, 1, accuracy: 1e-6)
        XCTAssertEqual(tile0.min()!, 0, accuracy: 1e-6)
    }

    func testBenchJSON() throws {
        let r = try loupe(["bench", Self.model, "--runs", "3", "--warmup", "1", "--batch", "2", "--threads", "1", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(doc["runs"] as? Int, 3)
        XCTAssertEqual(doc["batch"] as? Int, 2)
        XCTAssertEqual(doc["threads"] as? Int, 1)
        let median = try XCTUnwrap(doc["median_ms"] as? Double), lo = try XCTUnwrap(doc["min_ms"] as? Double)
        let hi = try XCTUnwrap(doc["max_ms"] as? Double)
        XCTAssertTrue(lo > 0 && lo <= median && median <= hi, "\(doc)")
    }

    func testErrorsAreClearAndNonZero() throws {
        let missing = try loupe(["inspect", "/nonexistent/model.onnx"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("/nonexistent/model.onnx"), missing.stderr)

        let unknown = try loupe(["inspect", Self.fixtures.appendingPathComponent("unknown-op.onnx").path])
        XCTAssertEqual(unknown.status, 1)
        for part in ["my_fancy_node", "FancyOp", "com.example", "opset"] {
            XCTAssertTrue(unknown.stderr.contains(part), "missing '\(part)' in: \(unknown.stderr)")
        }

        let notAModel = try loupe(["inspect", Self.images.appendingPathComponent("disc.png").path])
        XCTAssertNotEqual(notAModel.status, 0)
        XCTAssertTrue(notAModel.stderr.contains("disc.png"), notAModel.stderr)

        let badFlag = try loupe(["predict", Self.model, "x.png", "--top", "0"])
        XCTAssertNotEqual(badFlag.status, 0)
        XCTAssertTrue(badFlag.stderr.contains("--top"), badFlag.stderr)

        let badImage = try loupe(["predict", Self.model, Self.model])
        XCTAssertEqual(badImage.status, 1)
        XCTAssertTrue(badImage.stderr.contains("tiny-cnn.onnx"), badImage.stderr)

        let badShape = try loupe(["inspect", Self.model, "--input-shape", "nope=1x3x64x64"])
        XCTAssertEqual(badShape.status, 1)
        XCTAssertTrue(badShape.stderr.contains("not a graph input"), badShape.stderr)
    }

    func testHelpIsInSentencesWithExamples() throws {
        for cmd in ["inspect", "run", "predict", "filters", "explain", "bench"] {
            let r = try loupe([cmd, "--help"])
            XCTAssertEqual(r.status, 0)
            XCTAssertTrue(r.stdout.contains("loupe \(cmd)"), r.stdout)
            XCTAssertTrue(r.stdout.contains("Example"), "\(cmd) --help has no example")
            XCTAssertTrue(r.stdout.contains("--threads"), "\(cmd) --help lacks --threads")
        }
    }

    func testExplainWritesMapsWithTheDocumentedShapes() throws {
        let dir = try tempDir()
        let img = Self.images.appendingPathComponent("disc.png").path
        // The 64×64 sample model: last spatial layer 64×16×16.
        let expected: [String: [Int]] = [
            "saliency": [3, 64, 64], "deconvnet": [3, 64, 64], "guided-backprop": [3, 64, 64],
            "guided-grad-cam": [3, 64, 64], "cam": [16, 16], "grad-cam": [16, 16],
            "occlusion": [64, 64], "activations": [64, 16, 16],
        ]
        for (method, shape) in expected {
            let png = dir.appendingPathComponent("\(method).png").path, npy = dir.appendingPathComponent("\(method).npy").path
            let r = try loupe(["explain", Self.model, img, "--method", method, "--preprocess", "none", "--target", "2",
                               "-o", png, "--save-npy", npy])
            XCTAssertEqual(r.status, 0, "\(method): \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("\(method) for class 2"), r.stdout)
            let map = try NPY.read(path: npy)
            XCTAssertEqual(map.shape, shape, method)
            if ["saliency", "cam", "grad-cam"].contains(method) {
                XCTAssertGreaterThanOrEqual(map.floats.min()!, 0, "\(method) is after abs/ReLU")
            }
            let picture = try ImageIO.read(path: png)
            if method == "activations" {
                XCTAssertGreaterThan(picture.width, 64 * 8, "a titled panel of the 8 most active channels")
            } else {
                XCTAssertEqual(picture.width, 64, method)
            }
        }
    }

    func testExplainSeveralImagesAndErrors() throws {
        let dir = try tempDir()
        let imgs = ["disc", "square"].map { Self.images.appendingPathComponent("\($0).png").path }
        let r = try loupe(["explain", Self.model] + imgs + ["--method", "all", "--preprocess", "none", "-o", dir.path,
                                                              "--score", "probability"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for stem in ["disc", "square"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("\(stem)-all.png").path), r.stdout)
        }
        let badLayer = try loupe(["explain", Self.model, imgs[0], "--method", "grad-cam", "--layer", "nope", "--preprocess", "none", "-o", dir.appendingPathComponent("x.png").path])
        XCTAssertEqual(badLayer.status, 1)
        XCTAssertTrue(badLayer.stderr.contains("no layer named 'nope'") && badLayer.stderr.contains("/9/Relu"), badLayer.stderr)
        let badTarget = try loupe(["explain", Self.model, imgs[0], "--target", "7", "--preprocess", "none", "-o", dir.appendingPathComponent("y.png").path])
        XCTAssertEqual(badTarget.status, 1)
        XCTAssertTrue(badTarget.stderr.contains("5 classes"), badTarget.stderr)
        let badMethod = try loupe(["explain", Self.model, imgs[0], "--method", "magic"])
        XCTAssertNotEqual(badMethod.status, 0)
        XCTAssertTrue(badMethod.stderr.contains("--method"), badMethod.stderr)
    }

    /// `--method all` is every method but the slow ones (one forward pass per channel); a list
    /// adds them by name.
    func testExplainAllLeavesOutTheSlowMethods() throws {
        let dir = try tempDir()
        let img = Self.images.appendingPathComponent("disc.png").path
        func methods(_ m: String) throws -> [String] {
            let r = try loupe(["explain", Self.model, img, "--method", m, "--preprocess", "none", "-o", dir.path, "--json", "--force"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let doc = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]] ?? []
            return doc.compactMap { $0["method"] as? String }
        }
        let all = try methods("all")
        XCTAssertEqual(all.count, Method.allCases.count - 2, "\(all)")
        XCTAssertFalse(all.contains("score-cam") || all.contains("ablation-cam"), "\(all)")
        XCTAssertTrue(all.contains("grad-cam") && all.contains("occlusion"), "\(all)")
        let more = try methods("all,score-cam")
        XCTAssertEqual(more, all + ["score-cam"])
        XCTAssertEqual(try methods("score-cam,grad-cam"), ["score-cam", "grad-cam"])
        let help = try loupe(["explain", "--help"])
        let words = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        XCTAssertTrue(words.contains("every method except the slow score-cam and ablation-cam"), help.stdout)
    }

}
