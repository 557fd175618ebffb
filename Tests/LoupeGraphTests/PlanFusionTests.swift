import Foundation
import LoupeFormats
@testable import LoupeGraph
import LoupeTensor
import XCTest

/// BatchNorm folding and residual-add fusion in inference plans (`Executor.run`): the same
/// outputs as the unfused graph and as PyTorch, nothing folded across a kept tensor, and
/// gradient plans, fused the same way, as exact as unfused ones.
///
/// Tolerances: max |fused − reference| ≤ 1e-5 · max |reference| per tensor (folding rounds
/// the scaled weights once, float32 against PyTorch's float64; oneDNN's kernels alone are
/// within 3e-6, docs/engine.md).
final class PlanFusionTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let tolerance = 1e-5

    func fixture(_ name: String) -> String { Self.fixtures.appendingPathComponent(name).path }

    /// max |a − ref| / max |ref|.
    func relativeError(_ a: [Float], _ ref: [Double]) -> Double {
        XCTAssertEqual(a.count, ref.count)
        var e = 0.0, m = 0.0
        for (u, v) in zip(a, ref) {
            e = max(e, abs(Double(u) - v)); m = max(m, abs(v))
            if u.isNaN { e = .infinity }
        }
        return m > 0 ? e / m : e
    }

    func reference(_ name: String) throws -> [Double] {
        try NPY.read(path: fixture(name)).floats.map(Double.init)
    }

    func tinyResNet() throws -> (Executor, Tensor) {
        let g = try ONNXImporter.load(path: fixture("tiny-resnet-bn.onnx"))
        return (try Executor(graph: g), try NPY.read(path: fixture("tiny-resnet-bn-x.npy")))
    }

    /// The 6 BatchNorms fold into their convolutions, both residual Adds and every Relu fuse
    /// into convolutions, and the logits match PyTorch (float64) and the unfused plan.
    func testTinyResNetFoldsAndFusesAndMatchesPyTorch() throws {
        let (ex, x) = try tinyResNet()
        let want = try reference("tiny-resnet-bn-y.npy")
        for engine in ConvEngine.allCases {
            let saved = LoupeConfiguration.current
            LoupeConfiguration.update { $0.convolutions = engine }
            defer { LoupeConfiguration.current = saved }
            let logits = try XCTUnwrap(try ex.run(["x": x])["logits"])
            let e = relativeError(logits.floats, want)
            XCTAssertLessThanOrEqual(e, Self.tolerance, "\(engine)")
            print("PlanFusionTests: tiny ResNet, fused plan on \(engine): relative error \(e) against PyTorch float64")
        }
        let fused = try ex.plan(feeds: ["x": x], keep: [], fuse: true)
        let ops = fused.graph.nodes.map(\.opType)
        XCTAssertFalse(ops.contains("BatchNormalization"), "\(ops)")
        XCTAssertFalse(ops.contains("Add"), "\(ops)")
        XCTAssertFalse(ops.contains("Relu"), "\(ops)")
        XCTAssertEqual(fused.graph.nodes.filter { $0.attributes[fusedAddAttribute] != nil }.count, 2)
        XCTAssertEqual(ex.graph.nodes.filter { $0.opType == "BatchNormalization" }.count, 6, "the loaded graph is untouched")

        // The same executor's unfused plan (`gradients(..., fused: false)`) gives the same logits.
        let plain = try ex.plan(feeds: ["x": x], keep: [], fuse: false)
        XCTAssertEqual(plain.graph.nodes.filter { $0.opType == "BatchNormalization" }.count, 6)
        let slots = try ex.forward(plain, ["x": x], releasing: { _ in [] })
        let unfused = try XCTUnwrap(slots[plain.slotOf["logits"]!])
        XCTAssertLessThanOrEqual(relativeError(unfused.floats, want), Self.tolerance)
        // `run(fused: false)` runs that plan.
        let viaRun = try XCTUnwrap(try ex.run(["x": x], fused: false)["logits"])
        XCTAssertEqual(viaRun.floats, unfused.floats)
    }

    /// A kept convolution output is the convolution's own value (its BN is not folded in),
    /// and the logits stay right.
    func testKeptConvolutionOutputIsNotFolded() throws {
        let (ex, x) = try tinyResNet()
        let stem = "/stem/Conv_output_0"
        let out = try ex.run(["x": x], keep: [stem])
        XCTAssertLessThanOrEqual(relativeError(try XCTUnwrap(out[stem]).floats, try reference("tiny-resnet-bn-stem.npy")), Self.tolerance)
        XCTAssertLessThanOrEqual(relativeError(try XCTUnwrap(out["logits"]).floats, try reference("tiny-resnet-bn-y.npy")), Self.tolerance)
        let plan = try ex.plan(feeds: ["x": x], keep: [stem], fuse: true)
        XCTAssertEqual(plan.graph.nodes.filter { $0.opType == "BatchNormalization" }.count, 1, "only the stem's BN stays")
    }

    /// On each convolution engine: the (fused) gradient plan's input gradient within
    /// `tolerance` of the float64 `reference`, and under each ReLU rule of the unfused plan's
    /// (which must not be all zeros).
    func checkFusedGradients(_ ex: Executor, _ x: Tensor, output: String, seed: Tensor, reference: [Double]) throws {
        for engine in ConvEngine.allCases {
            let saved = LoupeConfiguration.current
            LoupeConfiguration.update { $0.convolutions = engine }
            defer { LoupeConfiguration.current = saved }
            let r = try ex.gradients(feeds: ["x": x], output: output, seed: { _ in seed }, wrt: ["x"])
            XCTAssertLessThanOrEqual(relativeError(try XCTUnwrap(r.gradients["x"]).floats, reference), Self.tolerance, "\(engine)")
            for rule in ReluRule.allCases {
                let rules = BackwardRules(relu: rule)
                let fused = try ex.gradients(feeds: ["x": x], output: output, seed: { _ in seed }, wrt: ["x"], rules: rules)
                let plain = try ex.gradients(feeds: ["x": x], output: output, seed: { _ in seed }, wrt: ["x"], rules: rules, fused: false)
                let want = try XCTUnwrap(plain.gradients["x"]).floats.map(Double.init)
                XCTAssertGreaterThan(want.map(abs).max() ?? 0, 0, "\(rule)")
                XCTAssertLessThanOrEqual(relativeError(try XCTUnwrap(fused.gradients["x"]).floats, want), Self.tolerance, "\(engine) \(rule)")
            }
        }
    }

    /// Gradient plans fuse as inference plans do (every BN folded, the residual Adds and
    /// Relus fused, layouts carried): the input gradient equals the float64 reference of the
    /// unfused graph, and under every ReLU rule the unfused plan's gradient.
    func testFusedGradientPlanMatchesTheUnfusedGraph() throws {
        let (ex, x) = try tinyResNet()
        let seed = Tensor(shape: [2, 10], floats: (0..<20).map { Float($0 % 7) - 3 })
        let f64 = try Float64Evaluator(graph: ex.graph, inputShapes: ["x": x.shape])
        let values = try f64.forward(["x": Float64Tensor(x)])
        let grads = try f64.backward(values: values, output: "logits", seed: Float64Tensor(seed))
        try checkFusedGradients(ex, x, output: "logits", seed: seed, reference: try XCTUnwrap(grads["x"]).data)
        let plan = try ex.plan(feeds: ["x": x], keep: ["x", "logits"], fuse: true, carryLayouts: true)
        let ops = plan.graph.nodes.map(\.opType)
        XCTAssertFalse(ops.contains("BatchNormalization") || ops.contains("Add") || ops.contains("Relu"), "\(ops)")
        let unfused = try ex.plan(feeds: ["x": x], keep: ["x", "logits"], fuse: false)
        XCTAssertEqual(unfused.graph.nodes.filter { $0.opType == "BatchNormalization" }.count, 6)
        XCTAssertEqual(unfused.graph.nodes.filter { $0.opType == "Add" }.count, 2)
    }

    /// A Clip(0, 1) fused with a residual Add into a convolution: the capped clamp's mask
    /// (x < 1 as well as x > 0) and the addend's gradient, under every ReLU rule, equal the
    /// unfused plan's, and the float64 reference's under the standard rule.
    func testFusedClipAndResidualGradientsMatchTheUnfusedGraph() throws {
        var rng = SplitMix64(seed: 5)
        let x = Tensor(shape: [1, 16, 9, 9], floats: (0..<(16 * 81)).map { _ in rng.nextFloat() * 2 - 1 })
        let seed = Tensor(shape: [1, 16, 9, 9], floats: (0..<(16 * 81)).map { _ in rng.nextFloat() * 2 - 1 })
        let g = residualGraph()
        let ex = try Executor(graph: g)
        let plan = try ex.plan(feeds: ["x": x], keep: ["x", "t"], fuse: true, carryLayouts: true)
        XCTAssertEqual(plan.graph.nodes.filter { $0.attributes[fusedAddAttribute] != nil && $0.attributes[fusedClipAttribute] != nil }.count, 1)
        let f64 = try Float64Evaluator(graph: g, inputShapes: ["x": x.shape])
        let values = try f64.forward(["x": Float64Tensor(x)])
        let grads = try f64.backward(values: values, output: "t", seed: Float64Tensor(seed))
        // Both sides of the clamp occur, so the mask matters.
        let s = try XCTUnwrap(values["s"]).data
        XCTAssertTrue(s.contains { $0 < 0 } && s.contains { $0 > 1 } && s.contains { $0 > 0 && $0 < 1 })
        try checkFusedGradients(ex, x, output: "t", seed: seed, reference: try XCTUnwrap(grads["x"]).data)
    }

    /// x [1, 16, 9, 9] → a = Conv 3×3 (16→16); b = Conv 1×1 (x) computed *after* a;
    /// s = Add(a, b) → Clip(0, 1) → out → Conv 3×3 → c; also t = Add(a2, bias [16, 1, 1]) (broadcast: not fused).
    func residualGraph(outputA: Bool = false) -> Graph {
        var g = Graph()
        g.opset = 13
        g.inputs = [ValueInfo(name: "x", dtype: .float32, dims: [.fixed(1), .fixed(16), .fixed(9), .fixed(9)])]
        var rng = SplitMix64(seed: 11)
        func random(_ shape: [Int], _ scale: Float) -> Tensor {
            Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in (rng.nextFloat() * 2 - 1) * scale })
        }
        g.initializers = ["wa": random([16, 16, 3, 3], 0.2), "ba": random([16], 0.5), "wb": random([16, 16, 1, 1], 0.3),
                          "wc": random([16, 16, 3, 3], 0.2), "lo": .scalar(0), "hi": .scalar(1), "per": random([16, 1, 1], 1)]
        let pads: Attribute = .ints([1, 1, 1, 1])
        g.nodes = [
            Node(name: "a", opType: "Conv", inputs: ["x", "wa", "ba"], outputs: ["a"], attributes: ["pads": pads]),
            Node(name: "b", opType: "Conv", inputs: ["x", "wb"], outputs: ["b"], attributes: [:]),
            Node(name: "s", opType: "Add", inputs: ["a", "b"], outputs: ["s"], attributes: [:]),
            Node(name: "act", opType: "Clip", inputs: ["s", "lo", "hi"], outputs: ["out"], attributes: [:]),
            Node(name: "c", opType: "Conv", inputs: ["out", "wc"], outputs: ["c"], attributes: ["pads": pads]),
            Node(name: "t", opType: "Add", inputs: ["c", "per"], outputs: ["t"], attributes: [:]),
        ]
        g.outputs = [ValueInfo(name: "t", dtype: .float32, dims: nil)]
        if outputA { g.outputs.append(ValueInfo(name: "a", dtype: .float32, dims: nil)) }
        return g
    }

    func testResidualAddFusesIntoTheConvolutionAndMatches() throws {
        var rng = SplitMix64(seed: 3)
        let x = Tensor(shape: [1, 16, 9, 9], floats: (0..<(16 * 81)).map { _ in rng.nextFloat() * 2 - 1 })
        for outputA in [false, true] {
            let g = residualGraph(outputA: outputA)
            let ex = try Executor(graph: g)
            let f64 = try Float64Evaluator(graph: g, inputShapes: ["x": x.shape])
            let want = try f64.forward(["x": Float64Tensor(x)])
            for engine in ConvEngine.allCases {
                let saved = LoupeConfiguration.current
                LoupeConfiguration.update { $0.convolutions = engine }
                defer { LoupeConfiguration.current = saved }
                let out = try ex.run(["x": x])
                for name in ["t"] + (outputA ? ["a"] : []) {
                    let e = relativeError(try XCTUnwrap(out[name]).floats, try XCTUnwrap(want[name]).data)
                    XCTAssertLessThanOrEqual(e, Self.tolerance, "\(name), \(engine), a is an output: \(outputA)")
                }
            }
            let plan = try ex.plan(feeds: ["x": x], keep: [], fuse: true)
            let ops = plan.graph.nodes.map(\.opType)
            XCTAssertEqual(ops, ["Conv", "Conv", "Conv", "Add"], "\(ops)")
            if outputA {
                // a is read by the caller: the Add fuses into b instead, with a as the addend.
                XCTAssertEqual(plan.graph.nodes.map(\.name), ["a", "b", "c", "t"])
                XCTAssertEqual(plan.graph.nodes[1].inputs.last, "a")
            } else {
                // The Add(a, b) and the Clip fuse into a, which moves after b (its addend).
                XCTAssertEqual(plan.graph.nodes.map(\.name), ["b", "a", "c", "t"])
                XCTAssertEqual(plan.graph.nodes[1].inputs.last, "b")
            }
            XCTAssertNotNil(plan.graph.nodes[1].attributes[fusedClipAttribute])
            try plan.graph.validate()
        }
    }
}
