import Foundation
import LoupeFormats
import LoupeGraph
@testable import LoupeSurgery
import LoupeTensor
import XCTest

/// The rewrites on models in memory: each result validates, and runs to the values the
/// original graph computes.
final class SurgeryPassTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tinyCNN = root.appendingPathComponent("SampleModels/tiny-cnn/tiny-cnn.onnx").path

    static func randomInput(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in rng.nextFloat() * 2 - 1 })
    }

    func tiny() throws -> Graph { try ModelFile.load(path: Self.tinyCNN) }

    func testStripHeadOutputsThePenultimateFeaturesExactly() throws {
        let g = try tiny()
        let fc = try StripHead.lastLinearLayer(g)
        XCTAssertEqual(fc.opType, "Gemm")
        let s = try StripHead.apply(g)
        try s.validate()
        XCTAssertEqual(s.outputs.map(\.name), [fc.inputs[0]])
        XCTAssertEqual(s.outputs[0].dims, [.symbol("batch"), .fixed(64)])
        XCTAssertFalse(s.nodes.contains { $0.opType == "Gemm" })
        XCTAssertLessThan(s.initializers.count, g.initializers.count, "the Gemm's weights are pruned")
        let x = Self.randomInput([2, 3, 64, 64], seed: 1)
        let want = try Executor(graph: g).run(["input": x], keep: [fc.inputs[0]])[fc.inputs[0]]!
        let got = try Executor(graph: s).run(["input": x])[fc.inputs[0]]!
        XCTAssertEqual(got.shape, [2, 64])
        XCTAssertEqual(got.floats, want.floats, "bitwise equal")
    }

    func testCutAtANamedLayerKeepsOrPoolsTheMap() throws {
        let g = try tiny()
        let t = try g.resolveTensor("/6/Relu")
        let x = Self.randomInput([1, 3, 64, 64], seed: 2)
        let want = try Executor(graph: g).run(["input": x], keep: [t])[t]!
        XCTAssertEqual(want.shape, [1, 32, 32, 32])
        let kept = try Cut.apply(g, at: t)
        XCTAssertEqual(kept.outputs[0].dims, [.symbol("batch"), .fixed(32), .fixed(32), .fixed(32)])
        XCTAssertEqual(try Executor(graph: kept).run(["input": x])[t]!.floats, want.floats)
        for pool in [Cut.Pooling.avg, .max] {
            let p = try Cut.apply(g, at: t, pool: pool)
            try p.validate()
            let y = try Executor(graph: p).run(["input": x])[p.outputs[0].name]!
            XCTAssertEqual(y.shape, [1, 32])
            for c in [0, 7, 31] {
                let plane = want.floats[(c * 1024)..<((c + 1) * 1024)]
                let ref = pool == .avg ? plane.reduce(0, +) / 1024 : plane.max()!
                XCTAssertEqual(y.floats[c], ref, accuracy: 1e-5)
            }
        }
    }

    func testUnknownNamesListTheClosestCandidatesFirst() throws {
        let g = try tiny()
        XCTAssertThrowsError(try g.resolveTensor("/6/Relo")) { e in
            let m = (e as! LoupeError).message
            XCTAssertTrue(m.contains("'/6/Relo' names no layer or tensor"), m)
            XCTAssertTrue(m.contains("closest: '/6/Relu'"), m)
        }
        XCTAssertThrowsError(try g.resolveTensor("input")) { e in
            XCTAssertTrue((e as! LoupeError).message.contains("is the graph input"))
        }
    }

    func testACutAtAConstantLeavesNoPathAndSaysSo() throws {
        var g = Graph()
        g.inputs = [ValueInfo(name: "x", dtype: .float32, dims: [.fixed(1), .fixed(4)])]
        g.initializers["c"] = Tensor(shape: [1, 4], floats: [1, 2, 3, 4])
        g.nodes = [Node(name: "neg", opType: "Neg", inputs: ["c"], outputs: ["nc"]),
                   Node(name: "add", opType: "Add", inputs: ["x", "nc"], outputs: ["y"])]
        g.outputs = [ValueInfo(name: "y", dtype: .float32, dims: [.fixed(1), .fixed(4)])]
        XCTAssertThrowsError(try Cut.apply(g, at: "nc")) { e in
            XCTAssertTrue((e as! LoupeError).message.contains("no path from input to output"), (e as! LoupeError).message)
        }
        XCTAssertThrowsError(try StripHead.apply(g)) { e in
            XCTAssertTrue((e as! LoupeError).message.contains("no fully connected layer"))
        }
    }

    func testExposeAddsOutputsAndKeepsTheOldOnes() throws {
        let g = try tiny()
        let e = try Expose.apply(g, outputs: ["/2/Relu", "/10/GlobalAveragePool"])
        XCTAssertEqual(e.outputs.count, 3)
        XCTAssertEqual(e.outputs[0].name, "logits")
        XCTAssertEqual(e.outputs[2].dims, [.symbol("batch"), .fixed(64), .fixed(1), .fixed(1)])
        let x = Self.randomInput([1, 3, 64, 64], seed: 3)
        let a = try Executor(graph: g).run(["input": x], keep: [e.outputs[1].name])
        let b = try Executor(graph: e).run(["input": x])
        XCTAssertEqual(b["logits"]!.floats, a["logits"]!.floats)
        XCTAssertEqual(b[e.outputs[1].name]!.floats, a[e.outputs[1].name]!.floats)
    }

    /// Conv → BN → Relu → GAP → Flatten → Gemm → BN, built by hand.
    static func bnGraph() -> Graph {
        var rng = SplitMix64(seed: 9)
        func r(_ n: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] { (0..<n).map { _ in lo + (hi - lo) * rng.nextFloat() } }
        var g = Graph()
        g.inputs = [ValueInfo(name: "x", dtype: .float32, dims: [.symbol("N"), .fixed(3), .fixed(8), .fixed(8)])]
        g.initializers = [
            "w": Tensor(shape: [4, 3, 3, 3], floats: r(108)), "b": Tensor(shape: [4], floats: r(4)),
            "g1": Tensor(shape: [4], floats: r(4, 0.5, 2)), "b1": Tensor(shape: [4], floats: r(4)),
            "m1": Tensor(shape: [4], floats: r(4)), "v1": Tensor(shape: [4], floats: r(4, 0.2, 3)),
            "fw": Tensor(shape: [5, 4], floats: r(20)),
            "g2": Tensor(shape: [5], floats: r(5, 0.5, 2)), "b2": Tensor(shape: [5], floats: r(5)),
            "m2": Tensor(shape: [5], floats: r(5)), "v2": Tensor(shape: [5], floats: r(5, 0.2, 3)),
        ]
        g.nodes = [
            Node(name: "conv", opType: "Conv", inputs: ["x", "w", "b"], outputs: ["c"], attributes: ["pads": .ints([1, 1, 1, 1])]),
            Node(name: "bn1", opType: "BatchNormalization", inputs: ["c", "g1", "b1", "m1", "v1"], outputs: ["n"], attributes: ["epsilon": .float(1e-3)]),
            Node(name: "relu", opType: "Relu", inputs: ["n"], outputs: ["r"]),
            Node(name: "gap", opType: "GlobalAveragePool", inputs: ["r"], outputs: ["p"]),
            Node(name: "flat", opType: "Flatten", inputs: ["p"], outputs: ["f"]),
            Node(name: "fc", opType: "Gemm", inputs: ["f", "fw"], outputs: ["z"], attributes: ["transB": .int(1)]),
            Node(name: "bn2", opType: "BatchNormalization", inputs: ["z", "g2", "b2", "m2", "v2"], outputs: ["y"]),
        ]
        g.outputs = [ValueInfo(name: "y", dtype: .float32, dims: [.symbol("N"), .fixed(5)])]
        g.opset = 15
        return g
    }

    func testFoldBatchNormKeepsTheOutputsWithin1e5() throws {
        let g = Self.bnGraph()
        let (f, folded) = try FoldBatchNorm.apply(g)
        try f.validate()
        XCTAssertEqual(folded, ["bn1", "bn2"])
        XCTAssertFalse(f.nodes.contains { $0.opType == "BatchNormalization" })
        XCTAssertEqual(f.nodes.map(\.opType), ["Conv", "Relu", "GlobalAveragePool", "Flatten", "Gemm"])
        let x = Self.randomInput([3, 3, 8, 8], seed: 4)
        let a = try Executor(graph: g).run(["x": x])["y"]!
        let b = try Executor(graph: f).run(["x": x])["y"]!
        XCTAssertEqual(a.shape, b.shape)
        for (u, v) in zip(a.floats, b.floats) { XCTAssertEqual(u, v, accuracy: 1e-5 * max(1, abs(u))) }
    }

    func testFoldBatchNormLeavesASharedConvAlone() throws {
        var g = Self.bnGraph()
        g.outputs.append(ValueInfo(name: "c", dtype: .float32, dims: nil))
        let (f, folded) = try FoldBatchNorm.apply(g)
        XCTAssertEqual(folded, ["bn2"])
        XCTAssertEqual(f.nodes.filter { $0.opType == "BatchNormalization" }.map(\.name), ["bn1"])
    }

    func testSetBatchFixesAndFreesTheBatchDimension() throws {
        let g = try tiny()
        let (f, _) = try SetBatch.apply(g, to: .fixed(4))
        XCTAssertEqual(f.inputs[0].dims, [.fixed(4), .fixed(3), .fixed(64), .fixed(64)])
        XCTAssertEqual(f.outputs[0].dims, [.fixed(4), .fixed(5)])
        let x = Self.randomInput([4, 3, 64, 64], seed: 5)
        XCTAssertEqual(try Executor(graph: f).run(["input": x])["logits"]!.floats,
                       try Executor(graph: g).run(["input": x])["logits"]!.floats)
        XCTAssertThrowsError(try Executor(graph: f).run(["input": Self.randomInput([1, 3, 64, 64], seed: 5)]))
        let (d, _) = try SetBatch.apply(f, to: .dynamic)
        XCTAssertEqual(d.inputs[0].dims?.first, .symbol("batch"))
        XCTAssertEqual(d.outputs[0].dims, [.symbol("batch"), .fixed(5)])
    }

    /// A fixed-batch export with `Reshape(x, [1, -1])`: the target follows the batch after
    /// set-batch; a `Expand` to a constant [1, ...] shape cannot, and the error says so.
    func testSetBatchRewritesHardCodedReshapeTargets() throws {
        var g = Graph()
        g.inputs = [ValueInfo(name: "x", dtype: .float32, dims: [.fixed(1), .fixed(2), .fixed(3)])]
        g.initializers["shape"] = Tensor.vector([1, -1] as [Int64])
        g.nodes = [Node(name: "flat", opType: "Reshape", inputs: ["x", "shape"], outputs: ["y"])]
        g.outputs = [ValueInfo(name: "y", dtype: .float32, dims: [.fixed(1), .fixed(6)])]
        let (f, rewritten) = try SetBatch.apply(g, to: .fixed(3))
        XCTAssertEqual(rewritten, ["flat"])
        XCTAssertEqual(f.outputs[0].dims, [.fixed(3), .fixed(6)])
        let x = Self.randomInput([3, 2, 3], seed: 6)
        XCTAssertEqual(try Executor(graph: f).run(["x": x])["y"]!.shape, [3, 6])

        var h = g
        h.initializers["shape"] = nil
        h.initializers["to"] = Tensor.vector([1, 2, 3] as [Int64])
        h.nodes = [Node(name: "grow", opType: "Expand", inputs: ["x", "to"], outputs: ["e"]),
                   Node(name: "big", opType: "Reshape", inputs: ["e", "six"], outputs: ["y"])]
        h.initializers["six"] = Tensor.vector([2, 3] as [Int64])
        h.outputs = [ValueInfo(name: "y", dtype: .float32, dims: [.fixed(2), .fixed(3)])]
        XCTAssertThrowsError(try SetBatch.apply(h, to: .fixed(2))) { e in
            let m = (e as! LoupeError).message
            XCTAssertTrue(m.contains("hard-codes the batch size 1") || m.contains("no longer fit"), m)
        }
    }
}
