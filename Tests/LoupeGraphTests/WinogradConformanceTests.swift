import Foundation
import LoupeFormats
import LoupeGraph
import LoupeTensor
import XCTest

/// Winograd (the default where oneDNN has it) against the direct kernels (`--exact`) on every
/// ONNX conformance case with a convolution and on the tiny ResNet fixture: every output within
/// 1e-4 · max |direct output| (issue 17 point 3). On the avx2 and baseline paths oneDNN 2.6
/// has no Winograd and both runs are the same kernels.
final class WinogradConformanceTests: XCTestCase {
    static let tolerance: Float = 1e-4

    func outputs(_ exec: Executor, _ graph: Graph, _ feeds: [String: Tensor], winograd: Bool) throws -> [Tensor] {
        let saved = LoupeConfiguration.current
        LoupeConfiguration.update { $0.winograd = winograd }
        defer { LoupeConfiguration.current = saved }
        let out = try exec.run(feeds)
        return try graph.outputs.map { try XCTUnwrap(out[$0.name]) }
    }

    func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        guard a.isFloat, b.isFloat else { return a.ints == b.ints ? 0 : .infinity }
        var e: Float = 0, m: Float = 0
        for (u, v) in zip(a.floats, b.floats) {
            e = max(e, abs(u - v)); m = max(m, abs(v))
            if u.isNaN != v.isNaN { e = .infinity }
        }
        return m > 0 ? e / m : e
    }

    func testWinogradKeepsConvolutionCasesWithin1e4OfDirect() throws {
        var checked = 0, worst: Float = 0
        for id in try Conformance.allCases() where Conformance.opTypes(id).contains("Conv") {
            guard let graph = try? ONNXImporter.load(path: Conformance.modelPath(id)), let exec = try? Executor(graph: graph),
                  let sets = try? Conformance.dataSets(id, graph: graph) else { continue }
            for (inputs, _) in sets where inputs.count == graph.inputs.count {
                var feeds: [String: Tensor] = [:]
                for (info, t) in zip(graph.inputs, inputs) { feeds[info.name] = t }
                guard let direct = try? outputs(exec, graph, feeds, winograd: false) else { continue }
                let wino = try outputs(exec, graph, feeds, winograd: true)
                for (a, b) in zip(wino, direct) {
                    let e = relativeError(a, b)
                    worst = max(worst, e)
                    XCTAssertLessThanOrEqual(e, Self.tolerance, id)
                }
                checked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 10, "conformance cases with a Conv")
        print("WinogradConformanceTests: \(checked) data sets with a Conv, worst relative difference Winograd vs direct \(worst)")
    }

    func testTinyResNetLogitsWithin1e4OfDirect() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
        let graph = try ONNXImporter.load(path: dir.appendingPathComponent("tiny-resnet-bn.onnx").path)
        let x = try NPY.read(path: dir.appendingPathComponent("tiny-resnet-bn-x.npy").path)
        let exec = try Executor(graph: graph)
        let wino = try outputs(exec, graph, ["x": x], winograd: true), direct = try outputs(exec, graph, ["x": x], winograd: false)
        XCTAssertLessThanOrEqual(relativeError(wino[0], direct[0]), Self.tolerance)
    }
}
