import Foundation
import LoupeFormats
import LoupeGraph
import LoupeTensor
import LoupeTestSupport
import XCTest

/// `loupe visualize` as a user runs it: outputs, JSON, the grid, and bad input.
final class VisualizeCLITests: XCTestCase {
    static let gap = CLITests.root.appendingPathComponent("SampleModels/shapes/shapes-gap.onnx").path
    static let labels = CLITests.root.appendingPathComponent("SampleModels/shapes/labels.txt").path

    func testClassWithJSONNpyAndFrames() throws {
        let dir = try TemporaryFolder.make("visualize", for: self)
        let png = dir.appendingPathComponent("star.png").path, npy = dir.appendingPathComponent("star.npy").path, frames = dir.appendingPathComponent("frames").path
        let r = try CLITests.run(["visualize", Self.gap, "--preprocess", "none", "--class", "star", "--labels", Self.labels,
                                  "--steps", "64", "-o", png, "--save-npy", npy, "--every", "32", "--frames", frames, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let result = try XCTUnwrap((doc["results"] as? [[String: Any]])?.first)
        XCTAssertEqual(result["class"] as? Int, 3)
        XCTAssertEqual(result["steps"] as? Int, 64)
        XCTAssertEqual(result["title"] as? String, "star")
        XCTAssertNotNil(result["final_objective"] as? Double)
        let p = try XCTUnwrap(result["probability"] as? Double)
        XCTAssert(p > 0 && p <= 1)
        XCTAssertTrue(r.stderr.contains("step 64/64"), r.stderr)
        // The npy is the unit image [C, H, W]; the PNG is enlarged 4× (64 → 256).
        let t = try NPY.read(path: npy)
        XCTAssertEqual(t.shape, [3, 64, 64])
        XCTAssert(t.floats.allSatisfy { $0 >= 0 && $0 <= 1 })
        let img = try ImageIO.read(path: png)
        XCTAssertEqual([img.width, img.height], [256, 256])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: frames).sorted(), ["step-00032.png", "step-00064.png"])
        // The PNG shows the npy's values (nearest neighbour, 8 bits).
        XCTAssertEqual(img[5 * 4, 7 * 4, 1], t.floats[64 * 64 + 5 * 64 + 7], accuracy: 1 / 255 + 1e-6)
        // Never overwrite unasked.
        let again = try CLITests.run(["visualize", Self.gap, "--preprocess", "none", "--class", "0", "--steps", "2", "-o", png])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("exists; pass --force"), again.stderr)
    }

    func testGridOfChannelsAndNaive() throws {
        let dir = try TemporaryFolder.make("visualize", for: self)
        let png = dir.appendingPathComponent("grid.png").path
        let r = try CLITests.run(["visualize", Self.gap, "--preprocess", "none", "--channel", "/9/Relu:3", "--channel", "/12/Relu:5",
                                  "--neuron", "/12/Relu:5:8:8", "--steps", "16", "--naive", "-o", png])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("/9/Relu:3: objective"), r.stdout)
        XCTAssertTrue(r.stdout.contains("/12/Relu:5:8:8: objective"), r.stdout)
        let img = try ImageIO.read(path: png)
        XCTAssertGreaterThan(img.width, 3 * 256)
    }

    func testBadInput() throws {
        let dir = try TemporaryFolder.make("visualize", for: self)
        let out = dir.appendingPathComponent("x.png").path
        func fails(_ args: [String], _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
            let r = try CLITests.run(["visualize", Self.gap, "--preprocess", "none", "--steps", "2", "-o", out] + args)
            XCTAssertNotEqual(r.status, 0, file: file, line: line)
            XCTAssertTrue(r.stderr.contains(message), "expected '\(message)' in: \(r.stderr)", file: file, line: line)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), file: file, line: line)
        }
        try fails(["--channel", "/12/Relu:64"], "channel 64 is out of range: layer '/12/Relu' has 64 channels")
        try fails(["--channel", "/nope/Relu:1"], "no layer named '/nope/Relu'")
        try fails(["--channel", "/12/Relu"], "--channel expects LAYER:K")
        try fails(["--neuron", "/12/Relu:1:16:0"], "outside layer '/12/Relu', whose output is 16x16")
        try fails(["--class", "6"], "target 6 is out of range: the model has 6 classes")
        try fails(["--class", "hexagon"], "neither a class index nor a label")
        try fails([], "give what to visualise")
        try fails(["--class", "0", "--steps", "0"], "--steps must be at least 1")
        try fails(["--class", "0", "--every", "4"], "--every N and --frames DIR go together")
        try fails(["--class", "0", "--size", "64"], "--size expects HxW")
        try fails(["--class", "0", "--start", dir.appendingPathComponent("missing.png").path], "--start must be gray, random, zero or an image file")
        try fails(["--class", "0", "--naive", "--tv", "0.1"], "--naive is the textbook method with L2 decay only")
        try fails(["--class", "0", "--lr=0"], "--lr must be a positive number")

        // A model whose input is not a float image.
        var g = Graph()
        g.inputs = [ValueInfo(name: "tokens", dtype: .int64, dims: [.fixed(1), .fixed(3), .fixed(8), .fixed(8)])]
        g.nodes = [Node(name: "cast", opType: "Cast", inputs: ["tokens"], outputs: ["f"], attributes: ["to": .int(1)]),
                   Node(name: "pool", opType: "GlobalAveragePool", inputs: ["f"], outputs: ["p"]),
                   Node(name: "flat", opType: "Flatten", inputs: ["p"], outputs: ["logits"])]
        g.outputs = [ValueInfo(name: "logits", dtype: .float32, dims: [.fixed(1), .fixed(3)])]
        let model = dir.appendingPathComponent("int-input.onnx").path
        try ONNXExporter.write(g, to: model)
        let r = try CLITests.run(["visualize", model, "--class", "0", "--steps", "2", "-o", out])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("input 'tokens' is int64, not a float image"), r.stderr)
    }
}
