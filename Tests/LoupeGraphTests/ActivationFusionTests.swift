import XCTest
@testable import LoupeGraph
import LoupeTensor

/// Relu / Clip folded into the Conv or Add that feeds them (inference plans only) give the
/// same values as the unfused graph, and are not folded when the sum is read elsewhere.
final class ActivationFusionTests: XCTestCase {
    /// x, y [1, 2, 3, 4] → Add → (Relu | Clip 0..6) → out; `alsoOutputSum` makes the sum a
    /// graph output too, which must block the fusion.
    func graph(clip: Bool, alsoOutputSum: Bool = false) -> Graph {
        var g = Graph()
        let dims: [Dim] = [.fixed(1), .fixed(2), .fixed(3), .fixed(4)]
        g.inputs = [ValueInfo(name: "x", dtype: .float32, dims: dims), ValueInfo(name: "y", dtype: .float32, dims: dims)]
        g.nodes = [Node(name: "add", opType: "Add", inputs: ["x", "y"], outputs: ["s"], attributes: [:])]
        if clip {
            g.initializers["lo"] = .scalar(0)
            g.initializers["hi"] = .scalar(6)
            g.nodes.append(Node(name: "act", opType: "Clip", inputs: ["s", "lo", "hi"], outputs: ["out"], attributes: [:]))
        } else {
            g.nodes.append(Node(name: "act", opType: "Relu", inputs: ["s"], outputs: ["out"], attributes: [:]))
        }
        g.outputs = [ValueInfo(name: "out", dtype: .float32, dims: dims)]
        if alsoOutputSum { g.outputs.append(ValueInfo(name: "s", dtype: .float32, dims: dims)) }
        return g
    }

    func testAddReluAndAddClipFuseAndMatch() throws {
        var rng = SplitMix64(seed: 5)
        let x = (0..<24).map { _ in rng.nextFloat() * 10 - 5 }, y = (0..<24).map { _ in rng.nextFloat() * 10 - 5 }
        let feeds = ["x": Tensor(shape: [1, 2, 3, 4], floats: x), "y": Tensor(shape: [1, 2, 3, 4], floats: y)]
        for clip in [false, true] {
            var g = graph(clip: clip)
            XCTAssertEqual(g.fuseActivations(), 1, "clip \(clip)")
            XCTAssertEqual(g.nodes.map(\.opType), ["Add"])
            let out = try XCTUnwrap(try Executor(graph: graph(clip: clip)).run(feeds)["out"])
            let want = zip(x, y).map { min(max($0 + $1, 0), clip ? 6 : .infinity) }
            XCTAssertEqual(out.floats, want, "clip \(clip)")
            XCTAssertTrue(out.floats.contains(0) && out.floats.contains { $0 > 0 })
        }
        var shared = graph(clip: false, alsoOutputSum: true)
        XCTAssertEqual(shared.fuseActivations(), 0, "the sum is also a graph output")
        let both = try Executor(graph: graph(clip: false, alsoOutputSum: true)).run(feeds)
        XCTAssertEqual(both["s"]?.floats, zip(x, y).map { $0 + $1 })
    }
}
