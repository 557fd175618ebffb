import Foundation
import LoupeTestSupport
import XCTest
@testable import LoupeTensor

/// `parallelMap`, and oneDNN primitives run on threads other than the one that made them
/// (docs/engine.md, "Threads": with oneDNN's default per-thread scratchpad that wrote through
/// a null pointer).
final class ParallelMapTests: XCTestCase {
    /// Results come back in index order, every index runs once, and no state is used by two
    /// calls at the same time.
    func testOrderAndOneCallPerState() throws {
        let saved = Threads.count
        Threads.set(2)
        defer { Threads.set(saved) }
        final class State { let busy = Locked(false) }
        let states = [State(), State()]
        let calls = Locked([Int](repeating: 0, count: 200))
        let overlaps = Locked(0)
        let got = try parallelMap(200, states: states) { s, i -> Int in
            if s.busy.mutate({ b in defer { b = true }; return b }) { overlaps.mutate { $0 += 1 } }
            defer { s.busy.value = false }
            calls.mutate { $0[i] += 1 }
            usleep(UInt32(i % 3) * 200)
            return i * i
        }
        XCTAssertEqual(got, (0..<200).map { $0 * $0 })
        XCTAssertEqual(calls.value, [Int](repeating: 1, count: 200))
        XCTAssertEqual(overlaps.value, 0)
        XCTAssertEqual(try parallelMap(0, states: states) { _, i in i }, [])
    }

    func testTheFirstErrorIsRethrown() {
        struct Failure: Error { let index: Int }
        let saved = Threads.count
        Threads.set(2)
        defer { Threads.set(saved) }
        XCTAssertThrowsError(try parallelMap(50, states: [(), ()]) { _, i -> Int in
            if i == 7 { throw Failure(index: i) }
            return i
        }) { error in
            XCTAssertEqual((error as? Failure)?.index, 7)
        }
    }

    /// One convolution plan made on this thread, then run by two worker threads at once many
    /// times (with primitives of their own, for one thread each): Winograd (which needs a scratchpad on the avx512 path) and a padded direct
    /// kernel, forward and input gradient. Each result must equal the one computed here.
    func testPrimitivesRunOnOtherThreads() throws {
        let saved = Threads.count
        Threads.set(2)
        defer { Threads.set(saved) }
        let shapes: [(c: Int, hw: Int, k: Int)] = [(64, 28, 3), (32, 13, 5)]
        for (c, hw, k) in shapes {
            let p = k / 2
            let g = ConvGeometry(input: [hw, hw], kernel: [k, k], strides: [1, 1], dilations: [1, 1],
                                 padsBegin: [p, p], padsEnd: [p, p], output: [hw, hw])
            var rng = LCG(state: UInt64(c * 1000 + hw))
            let n = 2, m = c
            let x = (0..<(n * c * hw * hw)).map { _ in rng.next() }
            let w = (0..<(m * c * k * k)).map { _ in rng.next() * 0.1 }
            let plan = ConvolutionPlan()
            func forward() throws -> [Float] {
                var y = [Float](repeating: .nan, count: n * m * g.outputSize)
                try x.withUnsafeBufferPointer { px in
                    try y.withUnsafeMutableBufferPointer { py in
                        try plan.forward(x: px.baseAddress!, batch: n, channels: c, weights: w, outChannels: m, group: 1,
                                         bias: nil, g, clip: nil, y: py.baseAddress!)
                    }
                }
                return y
            }
            func backward() throws -> [Float] {
                var dx = [Float](repeating: .nan, count: x.count)
                try x.withUnsafeBufferPointer { pdy in
                    try dx.withUnsafeMutableBufferPointer { pdx in
                        try plan.backwardData(dy: pdy.baseAddress!, batch: n, outChannels: m, weights: w, channels: c,
                                              group: 1, g, dx: pdx.baseAddress!)
                    }
                }
                return dx
            }
            let y = try forward(), dx = try backward()
            XCTAssertEqual(plan.cachedConvolutions, 2)
            let results = try parallelMap(16, states: [(), ()]) { _, i in try i % 2 == 0 ? forward() : backward() }
            // The workers' primitives are made for a team of one and kept apart from this
            // thread's (made for two): oneDNN must not run a primitive with a larger team.
            XCTAssertEqual(plan.cachedConvolutions, 4)
            XCTAssertEqual(try forward(), y)
            for (i, r) in results.enumerated() {
                let expected = i % 2 == 0 ? y : dx
                XCTAssertEqual(r.count, expected.count)
                let worst = zip(r, expected).map { abs($0 - $1) }.max() ?? .nan
                let scale = expected.map(abs).max() ?? 1
                XCTAssertLessThanOrEqual(worst, 1e-5 * scale, "\(c) channels, \(k)x\(k), call \(i)")
            }
        }
    }
}
