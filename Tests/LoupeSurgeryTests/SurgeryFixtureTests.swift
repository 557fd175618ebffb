import Foundation
import LoupeFormats
import LoupeGraph
@testable import LoupeSurgery
import LoupeTensor
import XCTest

/// Redoes each surgery of Scripts/fixtures/check-surgery.py with the library, and checks that the
/// written bytes have the fixture's SHA-256 (all but the fitted CAM head, whose weights
/// carry the BLAS kernels' rounding) and that Loupe, running the re-imported file,
/// gives onnxruntime's outputs (within 1e-5) on the fixture input. The script has already
/// checked those files with onnx.checker.check_model(full_check=True).
final class SurgeryFixtureTests: XCTestCase {
    static let root = SurgeryPassTests.root
    static let fixtures = root.appendingPathComponent("Tests/LoupeSurgeryTests/Fixtures")

    struct Case: Decodable {
        struct Output: Decodable { var name: String; var file: String; var shape: [Int] }
        var name: String
        var model: String
        var arguments: [String]
        var input: String
        var inputFile: String
        var outputs: [Output]
        var sha256: String
        var bytes: Int
    }

    static func cases() throws -> [Case] {
        struct File: Decodable { var cases: [Case] }
        let data = try Data(contentsOf: fixtures.appendingPathComponent("cases.json"))
        return try JSONDecoder().decode(File.self, from: data).cases
    }

    /// The value following `flag` in a case's arguments.
    static func option(_ args: [String], _ flag: String) -> String? {
        guard let i = args.firstIndex(of: flag), i + 1 < args.count else { return nil }
        return args[i + 1]
    }

    /// The preprocessed images of a folder, as `loupe surgery cam --preprocess none` loads them.
    static func shapesInputs(_ dir: String, height: Int = 64, width: Int = 64) throws -> [Tensor] {
        let p = try Preprocessing.preset(named: "none")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".png") }.sorted()
        return try files.map { try p.tensor(from: try ImageIO.read(path: (dir as NSString).appendingPathComponent($0)), height: height, width: width) }
    }

    /// The library call behind each case's command line.
    static func perform(_ c: Case) throws -> Graph {
        let g = try ModelFile.load(path: root.appendingPathComponent(c.model).path)
        let a = c.arguments
        // `--threads N` as the command line applies it (results of the fitted head depend on it).
        let previous = Threads.count
        if let t = option(a, "--threads") { Threads.set(Int(t)!) }
        defer { Threads.set(previous) }
        switch a[0] {
        case "strip-head":
            if let at = option(a, "--at") {
                return try Cut.apply(g, at: g.resolveTensor(at), pool: Cut.Pooling(rawValue: option(a, "--pool") ?? "none")!)
            }
            return try StripHead.apply(g)
        case "expose":
            return try Expose.apply(g, outputs: option(a, "--outputs")!.split(separator: ",").map(String.init))
        case "set-batch":
            return try SetBatch.apply(g, to: a[1] == "dynamic" ? .dynamic : .fixed(Int(a[1])!)).graph
        case "fold-bn":
            return try FoldBatchNorm.apply(g).graph
        case "cam":
            var s = CAMRestructure.Settings()
            s.holdout = Double(option(a, "--holdout") ?? "0.2")!
            s.training.seed = UInt64(option(a, "--seed") ?? "0")!
            s.augment = CAMRestructure.Augment(rawValue: option(a, "--augment") ?? "none")!
            let inputs = try shapesInputs(root.appendingPathComponent(option(a, "--images")!).path)
            return try CAMRestructure.run(g, inputs: inputs, settings: s).graph
        default:
            throw LoupeError(.invalidArgument, "unknown surgery \(a[0]) in cases.json")
        }
    }

    func testSurgeriesWriteTheFixtureBytesAndOnnxruntimesOutputs() throws {
        let cases = try Self.cases()
        XCTAssertGreaterThanOrEqual(cases.count, 9)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-surgery-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for c in cases {
            let g = try Self.perform(c)
            try g.validate()
            let opset = min(max(g.opset, 13), 21)
            let bytes = try ONNXExporter.serialize(g, opset: opset)
            XCTAssertEqual(bytes.count, c.bytes, c.name)
            if c.arguments[0] == "cam" {
                // The CAM head's weights are fitted by gradient descent on features from the
                // BLAS-backed convolution, so their last bits depend on the kernels OpenBLAS
                // picks for this CPU: the bytes are deterministic per machine (checked here by
                // fitting twice), and the file is judged by its size (its structure) and by its
                // outputs against onnxruntime's on the checked file, below.
                XCTAssertEqual(try ONNXExporter.serialize(try Self.perform(c), opset: opset), bytes, "\(c.name): fitting twice gave different bytes")
            } else {
                XCTAssertEqual(SHA256.hex(of: bytes), c.sha256, "\(c.name): the written bytes differ from the checked file")
            }
            let path = dir.appendingPathComponent(c.name + ".onnx").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let back = try ModelFile.load(path: path)
            let x = try NPY.read(path: Self.fixtures.appendingPathComponent(c.inputFile).path)
            let got = try Executor(graph: back).run([c.input: x])
            XCTAssertEqual(back.outputs.map(\.name), c.outputs.map(\.name), c.name)
            for o in c.outputs {
                let want = try NPY.read(path: Self.fixtures.appendingPathComponent(o.file).path)
                guard let y = got[o.name] else { XCTFail("\(c.name): no output \(o.name)"); continue }
                XCTAssertEqual(y.shape, want.shape, "\(c.name) \(o.name)")
                var worst: Float = 0
                for (u, v) in zip(y.floats, want.floats) { worst = max(worst, abs(u - v) / max(1, abs(v))) }
                XCTAssertLessThanOrEqual(worst, 1e-5, "\(c.name) \(o.name)")
            }
        }
    }

    func testSha256KnownAnswers() {
        XCTAssertEqual(SHA256.hex(of: []), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(of: Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(of: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}
