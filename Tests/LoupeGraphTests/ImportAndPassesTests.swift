import Foundation
import LoupeFormats
import LoupeGraph
import LoupeTensor
import XCTest

/// Importer storage forms and opset differences, and the graph passes, on fixtures made by
/// Scripts/fixtures/make-graph-fixtures.py with onnxruntime (or NumPy for opsets it cannot run).
final class ImportAndPassesTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    func fixture(_ name: String) -> String { Self.fixtures.appendingPathComponent(name).path }

    func assertClose(_ got: Tensor, _ want: Tensor, tol: Float = 1e-5, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.shape, want.shape, file: file, line: line)
        guard got.shape == want.shape else { return }
        for i in 0..<want.count {
            XCTAssertEqual(got.floats[i], want.floats[i], accuracy: tol, "element \(i)", file: file, line: line)
        }
    }

    func testShapeChainFoldsAwayAndAnyBatchRuns() throws {
        var g = try ONNXImporter.load(path: fixture("shape-chain.onnx"))
        try g.validate()
        let ops = Set(g.nodes.map(\.opType))
        XCTAssertTrue(ops.isSuperset(of: ["Shape", "Gather", "Unsqueeze", "Concat", "Reshape"]), "\(ops)")

        // Each pass keeps the invariants.
        try g.sortTopologically()
        try g.validate()
        let before = g.nodes.count
        let types = try g.foldConstants(inputTypes: ["x": TensorType(.float32, [3, 3, 8, 8])])
        XCTAssertEqual(types["y"], TensorType(.float32, [3, 6]))
        let folded = before - g.nodes.count
        try g.validate()
        g.eliminateDeadNodes()
        try g.validate()
        XCTAssertGreaterThanOrEqual(folded, 4)
        let left = g.nodes.map(\.opType)
        for op in ["Shape", "Gather", "Unsqueeze", "Concat"] { XCTAssertFalse(left.contains(op), "\(op) left in \(left)") }
        XCTAssertEqual(left, ["Conv", "Relu", "Reshape", "Gemm"])

        // The executor plans per batch size; both match onnxruntime.
        let exec = try Executor(graph: try ONNXImporter.load(path: fixture("shape-chain.onnx")))
        for b in [1, 3] {
            let x = try NPY.read(path: fixture("shape-chain-x\(b).npy"))
            let y = try exec.run(["x": x])["y"]!
            assertClose(y, try NPY.read(path: fixture("shape-chain-y\(b).npy")))
        }
    }

    func testExternalDataIsReadAndEscapesAreRefused() throws {
        let g = try ONNXImporter.load(path: fixture("external/model.onnx"))
        let x = try NPY.read(path: fixture("shape-chain-x3.npy"))
        assertClose(try Executor(graph: g).run(["x": x])["y"]!, try NPY.read(path: fixture("shape-chain-y3.npy")))

        XCTAssertThrowsError(try ONNXImporter.load(path: fixture("external/escape.onnx"))) { e in
            let msg = "\(e)"
            XCTAssertTrue(msg.contains("escapes the model's folder"), msg)
            XCTAssertTrue(msg.contains("escape.onnx"), msg)
        }
    }

    func testLegacyOpset6Attributes() throws {
        let g = try ONNXImporter.load(path: fixture("legacy-opset6.onnx"))
        XCTAssertEqual(g.opset, 6)
        let x = try NPY.read(path: fixture("legacy-opset6-x.npy"))
        let y = try Executor(graph: g).run(["x": x])["y"]!
        assertClose(y, try NPY.read(path: fixture("legacy-opset6-y.npy")), tol: 1e-6)
    }

    func testTypedFieldInitializers() throws {
        let g = try ONNXImporter.load(path: fixture("typed-fields.onnx"))
        XCTAssertEqual(g.initializers["h"]?.dtype, .float16)
        XCTAssertEqual(g.initializers["h"]?.floats, [0.5, -2.0])
        XCTAssertEqual(g.initializers["s"]?.ints, [1, 4])
        let y = try Executor(graph: g).run(["x": try NPY.read(path: fixture("typed-fields-x.npy"))])["y"]!
        assertClose(y, try NPY.read(path: fixture("typed-fields-y.npy")), tol: 0)
    }

    func testCycleIsAnError() throws {
        var g = Graph()
        g.inputs = [ValueInfo(name: "x", dtype: .float32, dims: [.fixed(2)])]
        g.outputs = [ValueInfo(name: "b", dtype: .float32, dims: nil)]
        g.nodes = [
            Node(name: "n1", opType: "Add", inputs: ["x", "b"], outputs: ["a"]),
            Node(name: "n2", opType: "Relu", inputs: ["a"], outputs: ["b"]),
        ]
        XCTAssertThrowsError(try g.sortTopologically()) { e in
            XCTAssertTrue("\(e)".contains("cycle"), "\(e)")
        }
        XCTAssertThrowsError(try Executor(graph: g))
    }

    func testValidateCatchesUndefinedInputs() {
        var g = Graph()
        g.inputs = [ValueInfo(name: "x", dtype: .float32, dims: [.fixed(2)])]
        g.outputs = [ValueInfo(name: "y", dtype: .float32, dims: nil)]
        g.nodes = [Node(name: "r", opType: "Relu", inputs: ["nowhere"], outputs: ["y"])]
        XCTAssertThrowsError(try g.validate()) { e in
            XCTAssertTrue("\(e)".contains("'nowhere'"), "\(e)")
        }
    }

    func testIntermediateBuffersAreReleased() throws {
        // Relu chain t0 → t5: each tensor is freed right after its only reader (slot i is t_i).
        var g = Graph()
        g.inputs = [ValueInfo(name: "t0", dtype: .float32, dims: [.fixed(4)])]
        for i in 0..<5 { g.nodes.append(Node(name: "r\(i)", opType: "Relu", inputs: ["t\(i)"], outputs: ["t\(i + 1)"])) }
        g.outputs = [ValueInfo(name: "t5", dtype: .float32, dims: nil)]
        let exec = try Executor(graph: g)
        let plan = try exec.plan(for: ["t0": TensorType(.float32, [4])])
        XCTAssertEqual(plan.releasedAfterStep, [[0], [1], [2], [3], [4]])
        let out = try exec.run(["t0": Tensor(shape: [4], floats: [-1, 2, -3, 4])], keep: ["t2"])
        XCTAssertEqual(out["t5"]?.floats, [0, 2, 0, 4])
        XCTAssertEqual(out["t2"]?.floats, [0, 2, 0, 4])
    }

    func testGradientsOneBackwardPassAndNoPathError() throws {
        // y = relu(x) * 3 is an output; z = -x another. ∂y/∂x and ∂y/∂(relu output) in one pass.
        var g = Graph()
        g.inputs = [ValueInfo(name: "x", dtype: .float32, dims: [.fixed(4)])]
        g.initializers["three"] = Tensor.scalar(3)
        g.nodes = [
            Node(name: "r", opType: "Relu", inputs: ["x"], outputs: ["a"]),
            Node(name: "m", opType: "Mul", inputs: ["a", "three"], outputs: ["y"]),
            Node(name: "n", opType: "Neg", inputs: ["x"], outputs: ["z"]),
        ]
        g.outputs = [ValueInfo(name: "y", dtype: .float32, dims: nil), ValueInfo(name: "z", dtype: .float32, dims: nil)]
        let exec = try Executor(graph: g)
        let x = Tensor(shape: [4], floats: [-1, 2, -3, 4])
        let r = try exec.gradients(feeds: ["x": x], output: "y", seed: { Tensor(shape: $0.shape, floats: [1, 1, 1, 1]) }, wrt: ["x", "a"])
        XCTAssertEqual(r.gradients["x"]?.floats, [0, 3, 0, 3])
        XCTAssertEqual(r.gradients["a"]?.floats, [3, 3, 3, 3])
        XCTAssertEqual(r.values["a"]?.floats, [0, 2, 0, 4])
        // The guided rule drops the negative incoming gradient.
        let guided = try exec.gradients(feeds: ["x": x], output: "y", seed: { Tensor(shape: $0.shape, floats: [1, -1, 1, 1]) },
                                        wrt: ["x"], rules: BackwardRules(relu: .guided))
        XCTAssertEqual(guided.gradients["x"]?.floats, [0, 0, 0, 3])
        // y does not depend on z.
        XCTAssertThrowsError(try exec.gradients(feeds: ["x": x], output: "y", seed: { $0 }, wrt: ["z"])) { e in
            XCTAssertTrue("\(e)".contains("no differentiable path"), "\(e)")
        }
    }

}
