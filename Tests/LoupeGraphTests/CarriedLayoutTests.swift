import Foundation
import LoupeFormats
@testable import LoupeGraph
import LoupeTensor
import XCTest

/// Carried layouts (docs/engine.md): an inference plan (`Executor.run`) that keeps activations
/// in oneDNN's layouts between convolutions, pooling and channel Concats gives the outputs of
/// the unfused NCHW plan within 1e-5 · max |output| (the fused plan also folds BatchNorm and
/// fuses residual adds, which round differently; the carried path alone changes no arithmetic
/// but the summation order of the average pooling). Run on every ISA path by Scripts/test.sh.
final class CarriedLayoutTests: XCTestCase {
    static let tolerance: Float = 1e-5
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../SampleModels").standardized

    func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        XCTAssertEqual(a.shape, b.shape)
        XCTAssertFalse(a.isCarried || b.isCarried, "outputs come back NCHW")
        var e: Float = 0, m: Float = 0
        for (u, v) in zip(a.floats, b.floats) {
            e = max(e, abs(u - v)); m = max(m, abs(v))
            if u.isNaN != v.isNaN { e = .infinity }
        }
        return m > 0 ? e / m : e
    }

    /// The carried plan's outputs against the unfused plan's; returns the worst error and the
    /// number of nodes the plan marked.
    @discardableResult
    func check(_ graph: Graph, _ feeds: [String: Tensor], _ what: String, keep: Set<String> = []) throws -> (Float, Int) {
        let exec = try Executor(graph: graph)
        let carried = try exec.run(feeds, keep: keep)
        let plan = try exec.plan(feeds: feeds, keep: keep, fuse: true, carryLayouts: true)
        XCTAssertTrue(plan.carriesLayouts)
        let marked = plan.graph.nodes.filter { $0.attributes[carriedLayoutAttribute] != nil }.count
        let plain = try exec.plan(feeds: feeds, keep: keep, fuse: false)
        let slots = try exec.forward(plain, feeds, releasing: { _ in [] })
        var worst: Float = 0
        for name in graph.outputs.map(\.name) + keep.sorted() {
            let want = try XCTUnwrap(slots[plain.slotOf[name]!], name)
            let e = relativeError(try XCTUnwrap(carried[name], name), want)
            worst = max(worst, e)
            XCTAssertLessThanOrEqual(e, Self.tolerance, "\(what): \(name)")
        }
        print("CarriedLayoutTests: \(what) on \((try? ISAPath.current().rawValue) ?? "?"): \(marked) nodes carry their layout, relative error \(worst) against the unfused plan")
        return (worst, marked)
    }

    /// Convolutions, residual sums and Relus carried, on the oneDNN and BLAS engines.
    func testTinyResNet() throws {
        let g = try ONNXImporter.load(path: Self.fixtures.appendingPathComponent("tiny-resnet-bn.onnx").path)
        let x = try NPY.read(path: Self.fixtures.appendingPathComponent("tiny-resnet-bn-x.npy").path)
        for engine in ConvEngine.allCases {
            let saved = LoupeConfiguration.current
            LoupeConfiguration.update { $0.convolutions = engine }
            defer { LoupeConfiguration.current = saved }
            let (_, marked) = try check(g, ["x": x], "tiny ResNet (\(engine))")
            XCTAssertGreaterThan(marked, 0)
        }
    }

    /// A kept tensor and the graph outputs are never carried, and come back NCHW.
    func testKeptTensorStaysNCHW() throws {
        let g = try ONNXImporter.load(path: Self.fixtures.appendingPathComponent("tiny-resnet-bn.onnx").path)
        let x = try NPY.read(path: Self.fixtures.appendingPathComponent("tiny-resnet-bn-x.npy").path)
        let exec = try Executor(graph: g)
        let probe = try exec.plan(feeds: ["x": x], keep: [], fuse: true, carryLayouts: true)
        let marked = try XCTUnwrap(probe.graph.nodes.first { $0.attributes[carriedLayoutAttribute] != nil })
        let name = marked.outputs[0]
        let plan = try exec.plan(feeds: ["x": x], keep: [name], fuse: true, carryLayouts: true)
        XCTAssertNil(plan.graph.nodes.first { $0.outputs.contains(name) }?.attributes[carriedLayoutAttribute])
        try check(g, ["x": x], "tiny ResNet keeping \(name)", keep: [name])
        let out = try exec.run(["x": x], keep: [name])
        XCTAssertFalse(try XCTUnwrap(out[name]).isCarried)
    }

    /// Whole networks with concat, max and average pooling: SqueezeNet (fire modules' channel
    /// Concats, ceil-mode MaxPool), Inception v1 (4-way Concats, LRN stays NCHW), DenseNet-121
    /// (Concat chains, AveragePool), ResNet-50 (ONNX conformance `onnx-light`, in-graph weights).
    func testConformanceNetworks() throws {
        for name in ["light_squeezenet", "light_inception_v1", "light_densenet121", "light_resnet50"] {
            let id = "onnx-light/\(name)"
            let graph = try ONNXImporter.load(path: Conformance.modelPath(id))
            let (inputs, _) = try XCTUnwrap(try Conformance.dataSets(id, graph: graph).first)
            let (_, marked) = try check(graph, [graph.inputs[0].name: inputs[0]], name)
            XCTAssertGreaterThan(marked, 0, name)
        }
    }

    /// A trained sample model with global average pooling, on a batch of 3.
    func testShapesGAP() throws {
        let graph = try ONNXImporter.load(path: Self.samples.appendingPathComponent("shapes/shapes-gap.onnx").path)
        let input = graph.inputs[0]
        var shape = try XCTUnwrap(input.dims).map { $0.value ?? 3 }
        shape[0] = 3
        var rng = SplitMix64(seed: 7)
        let x = Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in rng.nextFloat() })
        try check(graph, [input.name: x], "shapes-gap")
    }

    /// A fire-module network with random weights (the light conformance models' in-graph
    /// weights are constant, so a channel mix-up would not show there): stem Conv + Relu,
    /// ceil-mode MaxPool, squeeze 1×1, expand 1×1 ‖ expand 3×3 Concat, a residual Conv + Add,
    /// AveragePool with padding, GlobalAveragePool; channel counts that are not multiples of
    /// the 8- or 16-channel blocks; batch 2.
    func testFireNetworkWithRandomWeights() throws {
        var g = Graph()
        g.opset = 17
        g.inputs = [ValueInfo(name: "x", dtype: .float32, dims: [2, 3, 31, 29].map { Dim.fixed($0) })]
        g.outputs = [ValueInfo(name: "y", dtype: .float32, dims: nil)]
        var rng = SplitMix64(seed: 11)
        func weights(_ name: String, _ shape: [Int]) {
            let n = shape.reduce(1, *), scale = 1 / Float(shape.dropFirst().reduce(1, *)).squareRoot()
            g.initializers[name] = Tensor(shape: shape, floats: (0..<n).map { _ in (rng.nextFloat() - 0.5) * 2 * scale })
        }
        weights("w0", [20, 3, 3, 3]); weights("b0", [20])
        weights("ws", [12, 20, 1, 1]); weights("we1", [18, 12, 1, 1]); weights("we3", [22, 12, 3, 3])
        weights("wr", [40, 40, 3, 3]); weights("wf", [24, 40, 1, 1])
        let pad1: [String: Attribute] = ["pads": .ints([1, 1, 1, 1])]
        g.nodes = [
            Node(name: "stem", opType: "Conv", inputs: ["x", "w0", "b0"], outputs: ["s"], attributes: ["strides": .ints([2, 2])]),
            Node(name: "stem_relu", opType: "Relu", inputs: ["s"], outputs: ["sr"]),
            Node(name: "pool", opType: "MaxPool", inputs: ["sr"], outputs: ["p"],
                 attributes: ["kernel_shape": .ints([3, 3]), "strides": .ints([2, 2]), "ceil_mode": .int(1)]),
            Node(name: "squeeze", opType: "Conv", inputs: ["p", "ws"], outputs: ["q"]),
            Node(name: "squeeze_relu", opType: "Relu", inputs: ["q"], outputs: ["qr"]),
            Node(name: "e1", opType: "Conv", inputs: ["qr", "we1"], outputs: ["a"]),
            Node(name: "e3", opType: "Conv", inputs: ["qr", "we3"], outputs: ["b"], attributes: pad1),
            Node(name: "cat", opType: "Concat", inputs: ["a", "b"], outputs: ["c"], attributes: ["axis": .int(1)]),
            Node(name: "res", opType: "Conv", inputs: ["c", "wr"], outputs: ["r"], attributes: pad1),
            Node(name: "add", opType: "Add", inputs: ["r", "c"], outputs: ["ra"]),
            Node(name: "avg", opType: "AveragePool", inputs: ["ra"], outputs: ["v"],
                 attributes: ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1]), "count_include_pad": .int(1)]),
            Node(name: "final", opType: "Conv", inputs: ["v", "wf"], outputs: ["f"]),
            Node(name: "gap", opType: "GlobalAveragePool", inputs: ["f"], outputs: ["y"]),
        ]
        var xr = SplitMix64(seed: 13)
        let x = Tensor(shape: [2, 3, 31, 29], floats: (0..<(2 * 3 * 31 * 29)).map { _ in xr.nextFloat() })
        let (_, marked) = try check(g, ["x": x], "fire network")
        XCTAssertGreaterThanOrEqual(marked, 7, "stem, pool, squeeze, e1, e3, cat, res (with the add), avg, final")
        let out = try Executor(graph: g).run(["x": x], keep: ["c"])
        XCTAssertFalse(try XCTUnwrap(out["c"]).isCarried)
    }

    /// The marking pass: a Concat with an input that stays NCHW keeps its other producers
    /// NCHW too; graph outputs are not marked.
    func testConcatWithAPlainInputIsNotCarried() throws {
        var g = Graph()
        g.opset = 17
        g.inputs = [ValueInfo(name: "x", dtype: .float32, dims: [1, 4, 8, 8].map { Dim.fixed($0) })]
        g.outputs = [ValueInfo(name: "y", dtype: .float32, dims: nil)]
        var rng = SplitMix64(seed: 3)
        g.initializers["w"] = Tensor(shape: [8, 4, 3, 3], floats: (0..<288).map { _ in rng.nextFloat() - 0.5 })
        g.initializers["w2"] = Tensor(shape: [8, 12, 1, 1], floats: (0..<96).map { _ in rng.nextFloat() - 0.5 })
        g.nodes = [
            Node(name: "conv", opType: "Conv", inputs: ["x", "w"], outputs: ["a"], attributes: ["pads": .ints([1, 1, 1, 1])]),
            Node(name: "cat", opType: "Concat", inputs: ["a", "x"], outputs: ["c"], attributes: ["axis": .int(1)]),
            Node(name: "conv2", opType: "Conv", inputs: ["c", "w2"], outputs: ["y"], attributes: [:]),
        ]
        let exec = try Executor(graph: g)
        var xr = SplitMix64(seed: 5)
        let x = Tensor(shape: [1, 4, 8, 8], floats: (0..<256).map { _ in xr.nextFloat() })
        let plan = try exec.plan(feeds: ["x": x], keep: [], fuse: true, carryLayouts: true)
        XCTAssertTrue(plan.graph.nodes.allSatisfy { $0.attributes[carriedLayoutAttribute] == nil },
                      "\(plan.graph.nodes.map { "\($0.name): \($0.attributes.keys.sorted())" })")
        try check(g, ["x": x], "conv ‖ input concat")
    }
}
