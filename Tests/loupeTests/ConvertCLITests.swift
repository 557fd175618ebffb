import Foundation
import LoupeFormats
import LoupeGraph
import LoupeTensor
import LoupeTestSupport
import XCTest

/// `loupe convert` run as a user would, on the bundled sample model.
final class ConvertCLITests: XCTestCase {
    static let model = CLITests.model

    func loupe(_ args: [String]) throws -> CLITests.Result { try CLITests.run(args) }

    func tempDir() throws -> URL { try TemporaryFolder.make("loupe-convert", for: self) }

    func testConvertWritesAnEquivalentModelAtTheRequestedOpset() throws {
        let out = try tempDir().appendingPathComponent("tiny-17.onnx").path
        let r = try loupe(["convert", Self.model, out, "--opset", "17"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("opset 17, 11 nodes, 23909 parameters"), r.stdout)
        let source = try ONNXImporter.load(path: Self.model)
        let back = try ONNXImporter.load(path: out)
        XCTAssertEqual(back.opset, 17)
        XCTAssertEqual(back.nodes.map(\.name), source.nodes.map(\.name))
        XCTAssertEqual(back.inputs.map(\.name), source.inputs.map(\.name))
        XCTAssertEqual(back.outputs.map(\.name), source.outputs.map(\.name))
        // Same input, same bytes.
        let again = try tempDir().appendingPathComponent("again.onnx").path
        XCTAssertEqual(try loupe(["convert", Self.model, again, "--opset", "17"]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), try Data(contentsOf: URL(fileURLWithPath: again)))
    }

    func testConvertRefusesToOverwriteWithoutForce() throws {
        let out = try tempDir().appendingPathComponent("taken.onnx")
        try Data("mine".utf8).write(to: out)
        let r = try loupe(["convert", Self.model, out.path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("loupe: error: \(out.path) exists; pass --force to overwrite it"), r.stderr)
        XCTAssertEqual(try String(contentsOf: out, encoding: .utf8), "mine")
        let forced = try loupe(["convert", Self.model, out.path, "--force"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertEqual(try ONNXImporter.load(path: out.path).opset, 13)
    }

    func testConvertErrors() throws {
        let dir = try tempDir()
        let opset = try loupe(["convert", Self.model, dir.appendingPathComponent("a.onnx").path, "--opset", "12"])
        XCTAssertNotEqual(opset.status, 0)
        XCTAssertTrue(opset.stderr.contains("--opset must be between 13 and 21, got 12"), opset.stderr)
        let ext = try loupe(["convert", Self.model, dir.appendingPathComponent("a.txt").path])
        XCTAssertNotEqual(ext.status, 0)
        XCTAssertTrue(ext.stderr.contains("must end in .onnx"), ext.stderr)
        let folder = try loupe(["convert", Self.model, "/nonexistent-loupe-folder/a.onnx"])
        XCTAssertEqual(folder.status, 1)
        XCTAssertTrue(folder.stderr.contains("/nonexistent-loupe-folder does not exist"), folder.stderr)
        let missing = try loupe(["convert", dir.appendingPathComponent("none.onnx").path, dir.appendingPathComponent("b.onnx").path])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("no such file"), missing.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("b.onnx").path))
    }

    func testKerasModelConvertsToEquivalentONNX() throws {
        let keras = CLITests.root.appendingPathComponent("Tests/LoupeFormatsTests/Fixtures/keras")
        let out = try tempDir().appendingPathComponent("k3.onnx").path
        let r = try loupe(["convert", keras.appendingPathComponent("k3_sequential.keras").path, out, "--opset", "17"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let g = try ONNXImporter.load(path: out)
        XCTAssertEqual(g.opset, 17)
        XCTAssertFalse(g.nodes.contains { $0.attributes.keys.contains { $0.hasPrefix("loupe.") } })
        // Keras's own outputs, saved by the Keras importer's fixture script.
        let x = try NPY.read(path: keras.appendingPathComponent("k3_sequential_input.npy").path)
        let want = try NPY.read(path: keras.appendingPathComponent("k3_sequential_output0.npy").path)
        let got = try XCTUnwrap(try Executor(graph: g).run([g.inputs[0].name: x])[g.outputs[0].name])
        XCTAssertEqual(got.shape, want.shape)
        for (a, b) in zip(got.floats, want.floats) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }

    func testHelpAndProducerVersion() throws {
        let help = try loupe(["convert", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("loupe convert model.onnx model-opset17.onnx --opset 17"), help.stdout)
        let version = try loupe(["--version"])
        XCTAssertEqual(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines), ONNXExporter.producerVersion)
    }
}
