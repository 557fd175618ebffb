import Foundation
import LoupeFormats
import LoupeTensor
import XCTest

/// Models whose input sizes are dynamic (issue #13): the tiny-cnn sample model declared as
/// `[-1, 3, 64, 64]`, `[0, 3, 64, 64]`, `[N, 3, H, W]` and `[-1, 3, -1, -1]`, and a small
/// flatten-head model that runs at one size only (Fixtures/dynamic, made by
/// Scripts/fixtures/make-dynamic-fixtures.py and checked there with onnxruntime).
final class DynamicShapeCLITests: XCTestCase {
    static let dynamic = CLITests.fixtures.appendingPathComponent("dynamic")
    static func variant(_ name: String) -> String { dynamic.appendingPathComponent(name).path }
    static let disc = CLITests.images.appendingPathComponent("disc.png").path

    func loupe(_ args: [String]) throws -> CLITests.Result { try CLITests.run(args) }

    /// The logits of `predict --json --top 5`, by class index.
    func logits(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [Int: Double] {
        let r = try loupe(["predict"] + args + ["--top", "5", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]], r.stdout)
        let preds = try XCTUnwrap(doc.first?["predictions"] as? [[String: Any]])
        XCTAssertEqual(preds.count, 5, file: file, line: line)
        return Dictionary(uniqueKeysWithValues: preds.map { ($0["index"] as! Int, $0["logit"] as! Double) })
    }

    func assertSame(_ a: [Int: Double], _ b: [Int: Double], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.keys.sorted(), b.keys.sorted(), file: file, line: line)
        for (k, v) in a { XCTAssertEqual(v, b[k] ?? .nan, accuracy: 1e-6, "class \(k)", file: file, line: line) }
    }

    func testPredictOnMinusOneAndZeroBatchMatchesTheOriginal() throws {
        let want = try logits([CLITests.model, Self.disc])
        for name in ["neg1.onnx", "zero.onnx"] {
            assertSame(try logits([Self.variant(name), Self.disc]), want)
        }
        // With the preset that feeds the image as it is, the logits are onnxruntime's.
        let ort = try NPY.read(path: CLITests.fixtures.appendingPathComponent("disc-logits-ort.npy").path).floats
        let got = try logits([Self.variant("neg1.onnx"), Self.disc, "--preprocess", "none"])
        for (k, v) in got { XCTAssertEqual(v, Double(ort[k]), accuracy: 1e-5) }
    }

    func testRunFeedsAnyBatchToMinusOneAndZeroBatch() throws {
        let input = CLITests.fixtures.appendingPathComponent("tiny-cnn-input.npy").path
        let want = try NPY.read(path: CLITests.fixtures.appendingPathComponent("tiny-cnn-logits-ort.npy").path)
        for name in ["neg1.onnx", "zero.onnx", "nhw.onnx", "neg1-spatial.onnx"] {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-dyn-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: dir) }
            let r = try loupe(["run", Self.variant(name), "--input", "input=\(input)", "--output-dir", dir.path])
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            let got = try NPY.read(path: dir.appendingPathComponent("logits.npy").path)
            XCTAssertEqual(got.shape, [2, 5], name)
            for i in 0..<want.count { XCTAssertEqual(got.floats[i], want.floats[i], accuracy: 1e-5, name) }
        }
    }

    func testInspectShowsDynamicSizes() throws {
        let r = try loupe(["inspect", Self.variant("nhw.onnx")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("input:  input float32[1, 3, H, W]"), r.stdout)
        XCTAssertTrue(r.stdout.contains("output: logits float32[1, 5]"), r.stdout)
        let rows = r.stdout.split(separator: "\n").map(String.init)
        func row(_ node: String) throws -> [String] {
            try XCTUnwrap(rows.first { $0.hasPrefix(node + " ") }, node).split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        }
        // A padded 3x3 convolution keeps H and W; pooling makes sizes that are not H or W.
        XCTAssertEqual(try row("/0/Conv"), ["/0/Conv", "Conv", "[1,", "16,", "H,", "W]", "448", "?"])
        XCTAssertEqual(try row("/3/MaxPool"), ["/3/MaxPool", "MaxPool", "[1,", "16,", "?,", "?]"])
        XCTAssertEqual(try row("/10/GlobalAveragePool"), ["/10/GlobalAveragePool", "GlobalAveragePool", "[1,", "64,", "1,", "1]"])
        // The classifier's MACs do not depend on H and W.
        XCTAssertEqual(try row("/12/Gemm"), ["/12/Gemm", "Gemm", "[1,", "5]", "325", "320"])
        XCTAssertTrue(r.stdout.contains("parameters: 23,909"), r.stdout)
        XCTAssertTrue(r.stdout.contains("MACs: ? (input 'input' [N, 3, H, W] has dynamic H (axis 2) and W (axis 3); --input-shape sets them"), r.stdout)

        let unnamed = try loupe(["inspect", Self.variant("neg1-spatial.onnx")])
        XCTAssertEqual(unnamed.status, 0, unnamed.stderr)
        XCTAssertTrue(unnamed.stdout.contains("input:  input float32[1, 3, ?, ?]"), unnamed.stdout)
        XCTAssertTrue(unnamed.stdout.contains("[1, 16, ?, ?]"), unnamed.stdout)
        XCTAssertTrue(unnamed.stdout.contains("has dynamic axis 2 and axis 3"), unnamed.stdout)
    }

    func testInspectWithInputShapeMatchesTheStaticModel() throws {
        let original = try loupe(["inspect", CLITests.model])
        XCTAssertEqual(original.status, 0, original.stderr)
        func table(_ s: String) -> [String] { s.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("model:") && !$0.hasPrefix("producer:") } }
        for shape in ["1x3x64x64", "input=1x3x64x64"] {
            for name in ["nhw.onnx", "neg1-spatial.onnx"] {
                let r = try loupe(["inspect", Self.variant(name), "--input-shape", shape])
                XCTAssertEqual(r.status, 0, r.stderr)
                XCTAssertTrue(r.stdout.contains("MACs: 11,206,976"), r.stdout)
                XCTAssertEqual(table(r.stdout), table(original.stdout), "\(name) --input-shape \(shape)")
            }
        }
        // JSON: the same per-node MACs; open sizes are null without --input-shape.
        func doc(_ args: [String]) throws -> [String: Any] {
            let r = try loupe(["inspect"] + args + ["--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        }
        func macs(_ d: [String: Any]) -> [Int?] { (d["nodes"] as! [[String: Any]]).map { $0["macs"] as? Int } }
        let fixed = try doc([Self.variant("nhw.onnx"), "--input-shape", "1x3x64x64"])
        XCTAssertEqual(macs(fixed), macs(try doc([CLITests.model])))
        XCTAssertEqual(fixed["macs"] as? Int, 11_206_976)
        XCTAssertEqual((fixed["dynamic_dimensions"] as? [Any])?.count, 0)
        let open = try doc([Self.variant("nhw.onnx")])
        XCTAssertTrue(open["macs"] is NSNull, "\(open["macs"] ?? "missing")")
        XCTAssertEqual(macs(open), [nil, 0, 0, nil, 0, 0, nil, 0, 0, 0, 320])
        let input = try XCTUnwrap((open["inputs"] as? [[String: Any]])?.first)
        XCTAssertEqual((input["shape"] as? [Any])?.map { $0 as? Int }, [1, 3, nil, nil])
        let dims = try XCTUnwrap(open["dynamic_dimensions"] as? [[String: Any]])
        XCTAssertEqual(dims.map { $0["name"] as? String }, ["H", "W"])
        XCTAssertEqual(dims.map { $0["axis"] as? Int }, [2, 3])
    }

    func testInspectNamesTheDynamicSizesWhenTheShapesNeedThem() throws {
        let model = Self.variant("flatten-head.onnx")
        let r = try loupe(["inspect", model])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("input 'x' [N, 3, H, W] has dynamic H (axis 2) and W (axis 3)"), r.stderr)
        XCTAssertTrue(r.stderr.contains("node 'fc' (Gemm)"), r.stderr)
        XCTAssertTrue(r.stderr.contains("--input-shape, e.g. --input-shape x=1x3x224x224"), r.stderr)
        // At its real size it summarises: conv 3·2·16 + fc 32·3.
        let ok = try loupe(["inspect", model, "--input-shape", "x=1x3x4x4"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("MACs: \(3 * 2 * 16 + 32 * 3) "), ok.stdout)
        // A bare shape is ambiguous only for a model with several inputs; a wrong name is named.
        let wrong = try loupe(["inspect", model, "--input-shape", "input=1x3x4x4"])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stderr.contains("'input', which is not a graph input (inputs: x)"), wrong.stderr)
    }

    func testBenchNeedsAnInputForDynamicSizes() throws {
        let r = try loupe(["bench", Self.variant("nhw.onnx"), "--runs", "1", "--warmup", "0"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("input 'input' [N, 3, H, W] has dynamic H (axis 2) and W (axis 3); random input needs concrete sizes: give an input tensor with --input-npy"), r.stderr)
        let input = CLITests.fixtures.appendingPathComponent("tiny-cnn-input.npy").path
        let ok = try loupe(["bench", Self.variant("nhw.onnx"), "--runs", "1", "--warmup", "0", "--input-npy", input])
        XCTAssertEqual(ok.status, 0, ok.stderr)
    }

    func testNegativeDimensionOtherThanMinusOneIsRefused() throws {
        let r = try loupe(["predict", Self.variant("neg2.onnx"), Self.disc])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("neg2.onnx: value 'input' declares dimension 0 as -2"), r.stderr)
    }

    func testImageCommandsUseThePreprocessingSize() throws {
        let nhw = Self.variant("nhw.onnx")
        // --crop 64x64 feeds the dynamic model what the static model gets: same logits.
        for preset in ["imagenet", "none"] {
            assertSame(try logits([nhw, Self.disc, "--preprocess", preset, "--crop", "64x64"]),
                       try logits([CLITests.model, Self.disc, "--preprocess", preset, "--crop", "64x64"]))
        }
        let ort = try NPY.read(path: CLITests.fixtures.appendingPathComponent("disc-logits-ort.npy").path).floats
        for (k, v) in try logits([nhw, Self.disc, "--preprocess", "none", "--crop", "64x64"]) {
            XCTAssertEqual(v, Double(ort[k]), accuracy: 1e-5)
        }

        // Grad-CAM at the last conv: 64x64 input gives a 16x16 map; the imagenet preset's
        // 224x224 crop gives 56x56, the map the static model cannot make.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-dyn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func gradCAM(_ model: String, _ extra: [String], _ name: String) throws -> Tensor {
            let png = dir.appendingPathComponent("\(name).png").path, npy = dir.appendingPathComponent("\(name).npy").path
            let r = try loupe(["explain", model, Self.disc, "--method", "grad-cam", "-o", png, "--save-npy", npy] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            return try NPY.read(path: npy)
        }
        let dynamic = try gradCAM(nhw, ["--crop", "64x64"], "dynamic")
        let fixed = try gradCAM(CLITests.model, ["--crop", "64x64"], "static")
        XCTAssertEqual(dynamic.shape, [16, 16])
        XCTAssertEqual(dynamic.shape, fixed.shape)
        for i in 0..<fixed.count { XCTAssertEqual(dynamic.floats[i], fixed.floats[i], accuracy: 1e-5) }
        XCTAssertEqual(try gradCAM(nhw, [], "preset").shape, [56, 56])
        XCTAssertEqual(try gradCAM(Self.variant("neg1-spatial.onnx"), ["--crop", "96x80"], "crop").shape, [24, 20])

        // The report summarises the model at the size it feeds: the static model's MACs.
        let html = dir.appendingPathComponent("report.html")
        let r = try loupe(["report", nhw, Self.disc, "--crop", "64x64", "-o", html.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(try String(contentsOf: html, encoding: .utf8).contains("11,206,976"))
    }
}
