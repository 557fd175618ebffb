import XCTest
@testable import LoupeTensor

/// Loupe's own threading: `sgemm` split across threads (rows or columns, every transpose),
/// nested `parallelFor` run serially, conv tiles balanced across threads, and Relu/ReLU6
/// fused into the depthwise kernels. Each against a plain reference, on 2 threads. (An
/// extension of `ConvKernelTests` for its random source, geometry and conv runner.)
extension ConvKernelTests {
    func withTwoThreads(_ body: () throws -> Void) rethrows {
        let saved = Threads.count
        Threads.set(2)
        defer { Threads.set(saved) }
        try body()
    }

    /// op(A)·op(B) in Double, row-major with leading dimensions.
    func reference(_ tA: Bool, _ tB: Bool, _ m: Int, _ n: Int, _ k: Int, _ a: [Float], _ lda: Int, _ b: [Float], _ ldb: Int) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = tA ? a[p * lda + i] : a[i * lda + p]
                    let bv = tB ? b[j * ldb + p] : b[p * ldb + j]
                    s += Double(av) * Double(bv)
                }
                c[i * n + j] = Float(s)
            }
        }
        return c
    }

    func testSplitSgemmMatchesReferenceForEveryTransposeAndShape() { withTwoThreads {
        var rng = LCG(state: 5)
        var split = 0
        // Tall (split by rows), wide (split by columns), and one too small to split.
        for (m, n, k) in [(200, 40, 70), (3, 700, 130), (1, 1000, 300), (90, 90, 40), (5, 6, 7)] {
            for tA in [false, true] {
                for tB in [false, true] {
                    let lda = (tA ? m : k) + 3, ldb = (tB ? k : n) + 2
                    let a = rng.array((tA ? k : m) * lda), b = rng.array((tB ? n : k) * ldb)
                    var c = [Float](repeating: .nan, count: m * n)
                    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                        sgemm(transA: tA, transB: tB, m: m, n: n, k: k, a: pa.baseAddress!, lda: lda,
                              b: pb.baseAddress!, ldb: ldb, c: pc.baseAddress!, ldc: n)
                    }}}
                    let want = reference(tA, tB, m, n, k, a, lda, b, ldb)
                    let worst = zip(c, want).map { abs($0 - $1) / max(1, abs($1)) }.max()!
                    XCTAssertLessThan(worst, 1e-4, "m \(m) n \(n) k \(k) transA \(tA) transB \(tB)")
                    if m * n * k >= LoupeConfiguration.current.gemmSplitMinMACs { split += 1 }
                }
            }
        }
        XCTAssertGreaterThanOrEqual(split, 12, "most shapes are large enough to be split")
    }}

    func testNestedParallelForRunsEveryIterationOnce() { withTwoThreads {
        let outer = 4, inner = 37
        var hits = [Int](repeating: 0, count: outer * inner)
        hits.withUnsafeMutableBufferPointer { h in
            let p = h.baseAddress!
            parallelFor(outer) { i in
                XCTAssertTrue(ParallelRegion.isInside)
                parallelFor(inner) { j in p[i * inner + j] += 1 }   // serial: no races on row i
            }
        }
        XCTAssertEqual(hits, [Int](repeating: 1, count: outer * inner))
        XCTAssertFalse(ParallelRegion.isInside, "the flag is cleared after the region")
    }}

    /// Output heights that do not divide into equal tiles (28 rows once made tiles of 19 and 9).
    func testBalancedTilesMatchNaive() throws { try withTwoThreads {
        let saved = LoupeConfiguration.current
        defer { LoupeConfiguration.current = saved }
        LoupeConfiguration.update { $0.im2colTileFloats = 1 }
        var rng = LCG(state: 21)
        let t = self
        for (hw, minCols) in [(28, 19 * 28), (13, 40), (7, 8), (9, 1)] {
            LoupeConfiguration.update { $0.im2colMinTileColumns = minCols }
            let g = t.geometry([hw, hw], [3, 3], s: [1, 1], d: [1, 1], pb: [1, 1], pe: [1, 1])
            let (c, m) = (5, 8)
            let x = rng.array(2 * c * hw * hw), w = rng.array(m * c * 9), b = rng.array(m)
            t.assertClose(try t.runConv(fast: true, x: x, n: 2, c: c, w: w, m: m, group: 1, bias: b, g),
                          try t.runConv(fast: false, x: x, n: 2, c: c, w: w, m: m, group: 1, bias: b, g),
                          "\(hw)x\(hw), tiles of at least \(minCols) columns")
        }
    }}

    func testDepthwiseWithFusedClipMatchesNaiveThenClamp() throws { try withTwoThreads {
        var rng = LCG(state: 8)
        let t = self
        for (k, s, hw) in [(3, 1, 19), (3, 2, 20), (5, 1, 9), (3, 1, 1)] {
            for bounds: (Float, Float) in [(0, 0.5), (0, .infinity), (-0.2, 0.3)] {
                let p = k / 2
                let g = t.geometry([hw, hw], [k, k], s: [s, s], d: [1, 1], pb: [p, p], pe: [p, p])
                let c = 6
                let x = rng.array(c * hw * hw), w = rng.array(c * k * k), b = rng.array(c)
                var y = [Float](repeating: .nan, count: c * g.outputSize)
                try x.withUnsafeBufferPointer { px in try w.withUnsafeBufferPointer { pw in try b.withUnsafeBufferPointer { pb in
                    try y.withUnsafeMutableBufferPointer { py in
                        try conv2d(x: px.baseAddress!, batch: 1, channels: c, w: pw.baseAddress!, outChannels: c, group: c,
                                   bias: pb.baseAddress!, g, clip: bounds, y: py.baseAddress!)
                    }
                }}}
                let want = try t.runConv(fast: false, x: x, n: 1, c: c, w: w, m: c, group: c, bias: b, g)
                    .map { min(max($0, bounds.0), bounds.1) }
                t.assertClose(y, want, "\(k)x\(k) stride \(s) \(hw)x\(hw) clip \(bounds)")
                XCTAssertTrue(y.allSatisfy { $0 >= bounds.0 && $0 <= bounds.1 })
            }
        }
    }}
}
