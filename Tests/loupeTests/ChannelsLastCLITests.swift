import Foundation
import LoupeExplain
import LoupeFormats
import LoupeRender
import LoupeTensor
import LoupeTestSupport
import XCTest

/// A channels-last Keras model (Tests/LoupeFormatsTests/Fixtures/keras/k3_sequential.keras,
/// input [N, 20, 20, 3], made by Scripts/fixtures/make-keras-fixtures.py) through `explain`, `report`
/// and `bench --method`: every command explains it on the NCHW input the library gives it,
/// and they agree with each other and with `Method.run`.
final class ChannelsLastCLITests: XCTestCase {
    static let keras = KerasCLITests.keras
    static let model = keras.appendingPathComponent("k3_sequential.keras").path
    static let image = KerasCLITests.image

    private func loupe(_ args: [String]) throws -> CLITests.Result { try CLITests.run(args) }

    private func tempDir() throws -> URL { try TemporaryFolder.make("loupe-nhwc", for: self) }

    /// Item `n` of an NHWC tensor as an NCHW tensor [1, C, H, W].
    private func nchwItem(_ t: Tensor, _ n: Int) -> Tensor {
        let (h, w, c) = (t.shape[1], t.shape[2], t.shape[3])
        var out = [Float](repeating: 0, count: c * h * w)
        for y in 0..<h { for x in 0..<w { for ch in 0..<c { out[(ch * h + y) * w + x] = t.floats[((n * h + y) * w + x) * c + ch] } } }
        return Tensor(shape: [1, c, h, w], floats: out)
    }

    private func assertClose(_ a: Tensor, _ b: Tensor, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        guard a.shape == b.shape else { return }
        let scale = max(b.floats.map(abs).max() ?? 0, 1e-6)
        let worst = zip(a.floats, b.floats).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst / scale, 1e-4, "\(what): max difference \(worst) of \(scale)", file: file, line: line)
    }

    /// The PNG the report embeds with this `alt` text, decoded.
    private func reportPicture(_ html: String, alt: String, dir: URL) throws -> RGBImage {
        let tag = try XCTUnwrap(html.components(separatedBy: "<img ").first { $0.contains("alt=\"\(alt)\"") }, "no picture '\(alt)'")
        let b64 = try XCTUnwrap(tag.components(separatedBy: "base64,").dropFirst().first?.components(separatedBy: "\"").first)
        let path = dir.appendingPathComponent("embedded-\(UUID().uuidString).png").path
        try XCTUnwrap(Data(base64Encoded: b64)).write(to: URL(fileURLWithPath: path))
        return try ImageIO.read(path: path)
    }

    /// The library: the model keeps its NHWC input, `ExplainableModel` gives it an NCHW one,
    /// and on Keras's own test input (transposed) it computes Keras's output.
    func testExplainableModelTakesNCHWAndMatchesKeras() throws {
        let g = try ModelFile.load(path: Self.model)
        XCTAssertEqual(g.inputs[0].dims?.dropFirst().map(\.value), [20, 20, 3])
        let m = try ExplainableModel(graph: g)
        XCTAssertEqual(m.graph.inputs[0].dims?.dropFirst().map(\.value), [3, 20, 20])
        XCTAssertEqual(m.inputName, g.inputs[0].name)
        let nhwc = try NPY.read(path: Self.keras.appendingPathComponent("k3_sequential_input.npy").path)
        let expected = try NPY.read(path: Self.keras.appendingPathComponent("k3_sequential_output0.npy").path)
        for n in 0..<nhwc.shape[0] {
            let out = try m.executor.run([m.inputName: nchwItem(nhwc, n)])[m.outputName]!
            let k = expected.shape[1]
            assertClose(out, Tensor(shape: [1, k], floats: Array(expected.floats[(n * k)..<((n + 1) * k)])), "item \(n)")
        }
        // An NCHW model is left as it is.
        let onnx = try ModelFile.load(path: CLITests.model)
        XCTAssertEqual(try ExplainableModel(graph: onnx).graph.inputs[0].dims?.map(\.value), onnx.inputs[0].dims?.map(\.value))
    }

    /// `explain` writes the maps `Method.run` computes on the same image; `report` draws the
    /// same pictures as `explain`; `bench --method occlusion` runs on random and on given
    /// NCHW inputs. Without the NCHW input in any one command, its check fails: a map of
    /// shape 20×20×3, a 16×16 window that does not fit a "20×3" image, or an input of the
    /// wrong shape.
    func testExplainReportAndBenchAgree() throws {
        let dir = try tempDir()
        let occ = ["--window", "4x4", "--stride", "2x2"]
        let common = ["--preprocess", "none", "--threads", "1"]

        // The library on the image as `--preprocess none` prepares it for an NCHW input.
        let g = try ModelFile.load(path: Self.model)
        let m = try ExplainableModel(graph: g)
        var p = try Preprocessing.preset(named: "none")
        p.layout = .nchw
        let x = try p.tensor(from: try ImageIO.read(path: Self.image), height: 20, width: 20)
        var settings = Occlusion.Settings()
        settings.window = (4, 4)
        settings.stride = (2, 2)
        let options = Method.Options(occlusion: settings)

        for method in [Method.saliency, .occlusion, .gradCAM] {
            let name = method.rawValue
            let r = try loupe(["explain", Self.model, Self.image, "--method", name, "-o", dir.appendingPathComponent("\(name).png").path,
                               "--save-npy", dir.appendingPathComponent("\(name).npy").path] + occ + common)
            XCTAssertEqual(r.status, 0, r.stderr)
            let cli = try NPY.read(path: dir.appendingPathComponent("\(name).npy").path)
            let lib = try method.run(on: m, input: x, options: options)
            assertClose(cli, lib.map, name)
        }
        let shapes = try [Method.saliency, .occlusion, .gradCAM].map { try NPY.read(path: dir.appendingPathComponent("\($0.rawValue).npy").path).shape }
        XCTAssertEqual(shapes, [[3, 20, 20], [20, 20], [3, 3]])

        let html = dir.appendingPathComponent("r.html")
        let r = try loupe(["report", Self.model, Self.image, "--methods", "saliency,occlusion,grad-cam,activations",
                           "-o", html.path] + occ + common)
        XCTAssertEqual(r.status, 0, r.stderr)
        let page = try String(contentsOf: html, encoding: .utf8)
        XCTAssertFalse(page.contains("Not available"), "a method failed in the report")
        let stem = (Self.image as NSString).lastPathComponent
        for method in [Method.saliency, .occlusion, .gradCAM] {
            let fromReport = try reportPicture(page, alt: "\(method.title) for \(stem)", dir: dir)
            let fromExplain = try ImageIO.read(path: dir.appendingPathComponent("\(method.rawValue).png").path)
            XCTAssertEqual(fromReport, fromExplain, "\(method.rawValue): the report's picture differs from explain's")
        }

        let bench = try loupe(["bench", Self.model, "--method", "occlusion", "--runs", "1", "--warmup", "0", "--json"] + occ + ["--threads", "1"])
        XCTAssertEqual(bench.status, 0, bench.stderr)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bench.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(doc["batch"] as? Int, 1)
        XCTAssertEqual(doc["runs"] as? Int, 1)
        let npy = dir.appendingPathComponent("x.npy").path
        try NPY.write(x, path: npy)
        let given = try loupe(["bench", Self.model, "--method", "saliency", "--input-npy", npy, "--runs", "1", "--warmup", "0", "--threads", "1"])
        XCTAssertEqual(given.status, 0, given.stderr)
    }
}
