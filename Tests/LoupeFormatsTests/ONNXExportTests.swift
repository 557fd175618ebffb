import Foundation
import LoupeGraph
import LoupeTensor
import XCTest
@testable import LoupeFormats
import LoupeTestSupport

/// ONNX export against onnx and onnxruntime. Scripts/fixtures/check-onnx-export.py exported each model
/// in Fixtures/export/manifest.json with `loupe convert`, passed the file through
/// `onnx.checker.check_model(full_check=True)`, ran it in onnxruntime and saved the outputs and
/// the SHA-256 of the bytes. Here the same export must give the same bytes, and Loupe must
/// compute onnxruntime's outputs from the re-imported file.
final class ONNXExportTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = root.appendingPathComponent("Tests/LoupeFormatsTests/Fixtures/export")
    static let tinyCNN = root.appendingPathComponent("SampleModels/tiny-cnn/tiny-cnn.onnx").path

    struct Manifest: Decodable {
        struct Output: Decodable { var name: String; var file: String }
        struct Case: Decodable {
            var id: String
            var model: String
            var opset: Int
            var input: String
            var sha256: String
            var bytes: Int
            var outputs: [Output]
        }
        var cases: [Case]
    }

    func tempFile(_ name: String) -> String {
        try! TemporaryFolder.make("loupe-export", for: self).appendingPathComponent(name).path
    }

    /// The feeds the script used: `arange(n)/n` for the one input, or the case's input_k.pb.
    func feeds(_ g: Graph, kind: String, model: URL) throws -> [String: Tensor] {
        if kind == "arange" {
            let i = try XCTUnwrap(g.inputs.first)
            let shape = try XCTUnwrap(i.dims).map { $0.value ?? 1 }
            let n = shape.reduce(1, *)
            return [i.name: Tensor(shape: shape, floats: (0..<n).map { Float(Double($0) / Double(n)) })]
        }
        let folder = model.deletingLastPathComponent().appendingPathComponent("test_data_set_0")
        var f: [String: Tensor] = [:]
        for (k, i) in g.inputs.enumerated() {
            f[i.name] = try ONNXImporter.loadTensor(path: folder.appendingPathComponent("input_\(k).pb").path)
        }
        return f
    }

    func testExportsMatchOnnxruntimeAndAreDeterministic() throws {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("manifest.json"))
        let manifest = try JSONDecoder().decode(Manifest.self, from: data)
        XCTAssertGreaterThanOrEqual(manifest.cases.count, 30)
        XCTAssertEqual(Set(manifest.cases.filter { $0.id == "tiny-cnn" }.map(\.opset)), [13, 17, 21])
        var compared = 0
        for c in manifest.cases {
            let model = Self.root.appendingPathComponent(c.model).standardizedFileURL
            let source = try ModelFile.load(path: model.path)
            let bytes = try ONNXExporter.serialize(try ONNXExporter.simplified(source), opset: c.opset)
            XCTAssertEqual(bytes.count, c.bytes, "\(c.id) opset \(c.opset): size")
            XCTAssertEqual(SHA256.hex(of: bytes), c.sha256, "\(c.id) opset \(c.opset): bytes differ from the export onnxruntime checked")

            let path = tempFile("\(c.id)-\(c.opset).onnx")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let back = try ONNXImporter.load(path: path)
            XCTAssertEqual(back.opset, c.opset)
            XCTAssertEqual(back.inputs.map(\.name), source.inputs.map(\.name), c.id)
            XCTAssertEqual(back.outputs.map(\.name), source.outputs.map(\.name), c.id)
            let inputs = try feeds(back, kind: c.input, model: model)
            let logits = back.outputs.compactMap { SoftmaxConditioning.softmaxInput(of: $0.name, in: back) }
            let outputs = try Executor(graph: back).run(inputs, keep: Set(logits))
            XCTAssertEqual(c.outputs.count, back.outputs.count, c.id)
            for o in c.outputs {
                let want = try NPY.read(path: Self.fixtures.appendingPathComponent(o.file).path)
                let got = try XCTUnwrap(outputs[o.name], "\(c.id): no output \(o.name)")
                XCTAssertEqual(got.shape, want.shape, "\(c.id) \(o.name)")
                let g = got.floatValues, w = want.floatValues
                guard g.count == w.count else { continue }
                // An ill-conditioned softmax (light-squeezenet's logits are ~1e10) is judged by
                // its logits against the float64 evaluation, relative to their scale.
                if let z = SoftmaxConditioning.softmaxInput(of: o.name, in: back), let zt = outputs[z],
                   !SoftmaxConditioning.isReproducible(logits: zt, tolerance: 1e-5) {
                    let err = try SoftmaxConditioning.relativeErrorAgainstFloat64(back, feeds: inputs, tensor: z, float32: zt)
                    print("\(c.id) opset \(c.opset): softmax input '\(z)' \(err) from float64 relative to its scale")
                    XCTAssertLessThanOrEqual(err, 1e-5, "\(c.id) opset \(c.opset) softmax input \(z) vs float64")
                    compared += g.count
                    continue
                }
                var worst: Float = 0
                for k in 0..<g.count { worst = max(worst, abs(g[k] - w[k]) / max(1, abs(w[k]))) }
                XCTAssertLessThanOrEqual(worst, 1e-5, "\(c.id) opset \(c.opset) output \(o.name)")
                compared += g.count
            }
        }
        XCTAssertGreaterThan(compared, 4000)
    }

    func testNamesSurviveAndSerializingTwiceGivesTheSameBytes() throws {
        let g = try ONNXExporter.simplified(try ModelFile.load(path: Self.tinyCNN))
        let a = try ONNXExporter.serialize(g, opset: 17), b = try ONNXExporter.serialize(g, opset: 17)
        XCTAssertEqual(a, b)
        let path = tempFile("tiny.onnx")
        try ONNXExporter.write(g, to: path, opset: 17)
        let back = try ONNXImporter.load(path: path)
        XCTAssertEqual(back.nodes.map(\.name), g.nodes.map(\.name))
        XCTAssertEqual(back.nodes.map(\.opType), g.nodes.map(\.opType))
        XCTAssertEqual(back.inputs.map(\.name), ["input"])
        XCTAssertEqual(back.inputs[0].dims, [.symbol("batch"), .fixed(3), .fixed(64), .fixed(64)])
        XCTAssertEqual(back.metadata["producer"], "loupe \(ONNXExporter.producerVersion)")
        XCTAssertEqual(Set(back.initializers.keys), Set(g.initializers.keys))
        for (k, t) in g.initializers {
            XCTAssertEqual(back.initializers[k]?.floats, t.floats, k)
            XCTAssertEqual(back.initializers[k]?.shape, t.shape, k)
        }
    }

    func testFusedActivationsAreExportedUnfused() throws {
        var g = try ONNXExporter.simplified(try ModelFile.load(path: Self.tinyCNN))
        let relus = g.nodes.filter { $0.opType == "Relu" }.count
        XCTAssertGreaterThan(g.fuseActivations(), 0)
        let path = tempFile("fused.onnx")
        try ONNXExporter.write(g, to: path)
        let back = try ONNXImporter.load(path: path)
        XCTAssertEqual(back.nodes.filter { $0.opType == "Relu" }.count, relus)
        XCTAssertFalse(back.nodes.contains { $0.attributes.keys.contains { $0.hasPrefix("loupe.") } })
        let x = Tensor(shape: [1, 3, 64, 64], floats: (0..<(3 * 64 * 64)).map { Float($0 % 97) / 97 - 0.4 })
        let want = try Executor(graph: try ModelFile.load(path: Self.tinyCNN)).run(["input": x])
        let got = try Executor(graph: back).run(["input": x])
        let name = back.outputs[0].name
        XCTAssertEqual(got[name]!.floats, want[name]!.floats)
    }

    func testClipBoundsAndFusedReLU6BecomeInputs() throws {
        var g = Graph()
        g.opset = 9
        g.inputs = [ValueInfo(name: "x", dtype: .float32, dims: [.fixed(1), .fixed(2), .fixed(3), .fixed(3)])]
        g.outputs = [ValueInfo(name: "y", dtype: .float32, dims: nil), ValueInfo(name: "z", dtype: .float32, dims: nil)]
        g.initializers["w"] = Tensor(shape: [2, 2, 1, 1], floats: [1, -2, 3, 0.5])
        g.nodes = [
            Node(name: "conv", opType: "Conv", inputs: ["x", "w"], outputs: ["c"]),
            Node(name: "clip", opType: "Clip", inputs: ["c"], outputs: ["y"], attributes: ["min": .float(0), "max": .float(6)]),
            Node(name: "clip2", opType: "Clip", inputs: ["x"], outputs: ["z"], attributes: ["max": .float(0.25)]),
        ]
        let x = Tensor(shape: [1, 2, 3, 3], floats: (0..<18).map { Float($0) * 0.5 - 2 })
        let want = try Executor(graph: g).run(["x": x])
        var fused = g
        XCTAssertEqual(fused.fuseActivations(), 1)
        for graph in [g, fused] {
            let path = tempFile("clip.onnx")
            try ONNXExporter.write(graph, to: path, opset: 13)
            let back = try ONNXImporter.load(path: path)
            let clips = back.nodes.filter { $0.opType == "Clip" }
            XCTAssertEqual(clips.count, 2)
            XCTAssertTrue(clips.allSatisfy { $0.attributes.isEmpty })
            XCTAssertEqual(clips.first { $0.outputs == ["z"] }?.inputs.count, 3)
            XCTAssertEqual(clips.first { $0.outputs == ["z"] }?.inputs[1], "")
            let got = try Executor(graph: back).run(["x": x])
            XCTAssertEqual(got["y"]!.floats, want["y"]!.floats)
            XCTAssertEqual(got["z"]!.floats, want["z"]!.floats)
        }
    }

    func testWhatTheTargetOpsetCannotExpressIsAnErrorNamingTheNode() throws {
        var g = Graph()
        g.opset = 21
        g.inputs = [ValueInfo(name: "x", dtype: .float32, dims: [.fixed(2), .fixed(3)])]
        g.outputs = [ValueInfo(name: "s", dtype: .int64, dims: nil)]
        g.nodes = [Node(name: "tail", opType: "Shape", inputs: ["x"], outputs: ["s"], attributes: ["start": .int(1)])]
        XCTAssertThrowsError(try ONNXExporter.serialize(g, opset: 13)) { e in
            let m = (e as? LoupeError)?.message ?? ""
            XCTAssertTrue(m.contains("node 'tail' (Shape)") && m.contains("opset 15"), m)
        }
        XCTAssertNoThrow(try ONNXExporter.serialize(g, opset: 15))
        for bad in [12, 22] {
            XCTAssertThrowsError(try ONNXExporter.serialize(g, opset: bad)) { e in
                XCTAssertTrue("\(e)".contains("13 to 21"), "\(e)")
            }
        }
        // A Reduce whose axes are computed at run time cannot become an attribute (< 18).
        var r = Graph()
        r.opset = 18
        r.inputs = [ValueInfo(name: "x", dtype: .float32, dims: [.fixed(2), .fixed(3)]),
                    ValueInfo(name: "axes", dtype: .int64, dims: [.fixed(1)])]
        r.outputs = [ValueInfo(name: "m", dtype: .float32, dims: nil)]
        r.nodes = [Node(name: "mean", opType: "ReduceMean", inputs: ["x", "axes"], outputs: ["m"])]
        XCTAssertThrowsError(try ONNXExporter.serialize(r, opset: 17)) { e in
            XCTAssertTrue("\(e)".contains("node 'mean' (ReduceMean)"), "\(e)")
        }
        XCTAssertNoThrow(try ONNXExporter.serialize(r, opset: 18))
        // A malformed node is an error, not a crash.
        var bad = Graph()
        bad.opset = 9
        bad.outputs = [ValueInfo(name: "y", dtype: .float32, dims: nil)]
        bad.nodes = [Node(name: "slice", opType: "Slice", inputs: [], outputs: ["y"])]
        XCTAssertThrowsError(try ONNXExporter.serialize(bad)) { e in
            XCTAssertTrue("\(e)".contains("node 'slice' (Slice) has no input"), "\(e)")
        }
    }

    func testWholeNumberFloatAttributesAreWrittenAsFloats() throws {
        var g = Graph()
        g.inputs = [ValueInfo(name: "a", dtype: .float32, dims: [.fixed(2), .fixed(2)])]
        g.outputs = [ValueInfo(name: "y", dtype: .float32, dims: [.fixed(2), .fixed(2)])]
        g.initializers["b"] = Tensor(shape: [2, 2], floats: [1, 2, 3, 4])
        g.nodes = [Node(name: "gemm", opType: "Gemm", inputs: ["a", "b"], outputs: ["y"],
                        attributes: ["alpha": .int(2), "transB": .int(1), "loupe.origin": .string("keras")])]
        let path = tempFile("gemm.onnx")
        try ONNXExporter.write(g, to: path)
        let back = try ONNXImporter.load(path: path)
        guard case .float(let alpha)? = back.nodes[0].attributes["alpha"] else { return XCTFail("alpha is not a float") }
        XCTAssertEqual(alpha, 2)
        guard case .int(1)? = back.nodes[0].attributes["transB"] else { return XCTFail("transB changed") }
        XCTAssertNil(back.nodes[0].attributes["loupe.origin"])
    }

    func testOverTwoGigabytesIsAClearError() throws {
        var g = Graph()
        g.inputs = [ValueInfo(name: "x", dtype: .float32, dims: [.fixed(1)])]
        g.outputs = [ValueInfo(name: "y", dtype: .float32, dims: nil)]
        // The shape alone decides; no 2 GB buffer is allocated.
        var big = Tensor.scalar(0)
        big.shape = [1 << 29, 2]
        g.initializers["big"] = big
        g.nodes = [Node(name: "add", opType: "Add", inputs: ["x", "big"], outputs: ["y"])]
        XCTAssertThrowsError(try ONNXExporter.serialize(g)) { e in
            XCTAssertEqual((e as? LoupeError)?.kind, .tooLarge)
            XCTAssertTrue("\(e)".contains("'big'") && "\(e)".contains("2 GiB"), "\(e)")
        }
    }

    func testWriteRefusesToOverwriteWithoutPermission() throws {
        let g = try ModelFile.load(path: Self.tinyCNN)
        let path = tempFile("out.onnx")
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try ONNXExporter.write(g, to: path)) { e in
            XCTAssertTrue("\(e)".contains("exists"), "\(e)")
        }
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "keep me")
        try ONNXExporter.write(g, to: path, overwrite: true)
        XCTAssertEqual(try ONNXImporter.load(path: path).nodes.count, g.nodes.count)
        XCTAssertThrowsError(try ONNXExporter.write(g, to: "/nonexistent-folder/out.onnx")) { e in
            XCTAssertTrue("\(e)".contains("does not exist"), "\(e)")
        }
    }

    func testHalfPrecisionRoundTrips() {
        for v: Float in [0, 1, -2.5, 65504, 0.000061035156, 5.96e-8, 1e-3, .infinity, -.infinity] {
            XCTAssertEqual(halfToFloat(floatToHalf(v)), Float(Float16(v)), "\(v)")
        }
        XCTAssertTrue(halfToFloat(floatToHalf(.nan)).isNaN)
        XCTAssertEqual(floatToHalf(1e6), 0x7c00)
    }
}
