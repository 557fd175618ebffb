import Dispatch
import XCTest
@testable import LoupeGraph
import LoupeTensor

/// One `Executor` used from several threads at once (the library promises `Sendable`): runs of
/// several input shapes, so that plans are made and cached concurrently, give exactly the
/// values of the same runs made one after another.
final class ExecutorConcurrencyTests: XCTestCase {
    /// x [N, 3, H, W] → Conv 3×3 (4 channels, pad 1) → Relu → GlobalAveragePool → Flatten → Softmax.
    func graph() -> Graph {
        var g = Graph()
        g.inputs = [ValueInfo(name: "x", dtype: .float32, dims: [.symbol("N"), .fixed(3), .symbol("H"), .symbol("W")])]
        var rng = SplitMix64(seed: 41)
        g.initializers["w"] = Tensor(shape: [4, 3, 3, 3], floats: (0..<108).map { _ in rng.nextFloat() - 0.5 })
        g.initializers["b"] = Tensor(shape: [4], floats: [0.1, -0.2, 0.3, 0])
        g.nodes = [
            Node(name: "conv", opType: "Conv", inputs: ["x", "w", "b"], outputs: ["c"], attributes: ["pads": .ints([1, 1, 1, 1])]),
            Node(name: "relu", opType: "Relu", inputs: ["c"], outputs: ["r"], attributes: [:]),
            Node(name: "gap", opType: "GlobalAveragePool", inputs: ["r"], outputs: ["p"], attributes: [:]),
            Node(name: "flat", opType: "Flatten", inputs: ["p"], outputs: ["f"], attributes: [:]),
            Node(name: "softmax", opType: "Softmax", inputs: ["f"], outputs: ["y"], attributes: [:]),
        ]
        g.outputs = [ValueInfo(name: "y", dtype: .float32, dims: nil)]
        return g
    }

    func testOneExecutorOnManyThreadsMatchesSerialRuns() throws {
        let shapes = [[1, 3, 8, 8], [2, 3, 5, 7], [1, 3, 16, 9], [3, 3, 4, 4]]
        var rng = SplitMix64(seed: 7)
        let inputs = shapes.map { s in Tensor(shape: s, floats: (0..<s.reduce(1, *)).map { _ in rng.nextFloat() * 4 - 2 }) }
        let serial = try inputs.map { try Executor(graph: graph()).run(["x": $0])["y"]!.floats }

        let executor = try Executor(graph: graph())
        let runs = 48
        let results = Locked<[Int: [Float]]>([:])
        let failures = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: runs) { i in
            do {
                let y = try executor.run(["x": inputs[i % inputs.count]])["y"]!.floats
                results.mutate { $0[i] = y }
            } catch {
                failures.mutate { $0.append("run \(i): \(error)") }
            }
        }
        XCTAssertEqual(failures.value, [])
        let got = results.value
        XCTAssertEqual(got.count, runs)
        for i in 0..<runs {
            XCTAssertEqual(got[i], serial[i % inputs.count], "run \(i), input \(shapes[i % inputs.count])")
        }
        // Every shape's plan was made once and is reused.
        for x in inputs {
            let t = ["x": TensorType(x.dtype, x.shape)]
            let a = try executor.plan(for: t), b = try executor.plan(for: t)
            XCTAssertEqual(a.graph.nodes.map(\.name), b.graph.nodes.map(\.name))
        }
    }
}
