import Foundation
import LoupeTestSupport
import XCTest
@testable import LoupeTensor

/// Fast convolution and pooling backward kernels against their naive references on small
/// random shapes, the naive references against the forward kernels (adjoint identities), and
/// hand-computed cases.
final class ConvBackwardKernelTests: XCTestCase {

    /// Conv output sizes by the textbook formula (independent of the graph layer).
    func geometry(_ input: [Int], _ k: [Int], s: [Int], d: [Int], pb: [Int], pe: [Int]) -> ConvGeometry {
        var out: [Int] = []
        for i in 0..<input.count {
            let span: Int = (k[i] - 1) * d[i] + 1
            out.append((input[i] + pb[i] + pe[i] - span) / s[i] + 1)
        }
        return ConvGeometry(input: input, kernel: k, strides: s, dilations: d, padsBegin: pb, padsEnd: pe, output: out)
    }


    func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }

    /// One random conv problem: (n, c, m, group, geometry).
    func randomProblem(_ rng: inout LCG, trial: Int) -> (Int, Int, Int, Int, ConvGeometry)? {
        let depthwise = trial % 4 == 0
        let group = depthwise ? 0 : [1, 1, 2, 3][rng.int(4)]
        let c = depthwise ? 2 + rng.int(4) : group * (1 + rng.int(3))
        let grp = depthwise ? c : group
        let m = depthwise ? c * (1 + rng.int(2)) : grp * (1 + rng.int(3))
        let n = 1 + rng.int(2)
        let pointwise = trial % 7 == 3
        let h = 3 + rng.int(6), wd = 3 + rng.int(6)
        let k = pointwise ? [1, 1] : [1 + rng.int(3), 1 + rng.int(3)]
        let s = pointwise ? [1, 1] : [1 + rng.int(2), 1 + rng.int(3)]
        let d = [1 + rng.int(2), 1 + rng.int(2)]
        let pb = pointwise ? [0, 0] : [rng.int(3), rng.int(2)], pe = pointwise ? [0, 0] : [rng.int(2), rng.int(3)]
        let g = geometry([h, wd], k, s: s, d: d, pb: pb, pe: pe)
        if g.output.contains(where: { $0 < 1 }) { return nil }
        return (n, c, m, grp, g)
    }

    func testBackwardDataAndWeightMatchNaive() throws {
        let saved = Threads.count
        Threads.set(2)   // exercise the parallel col2im and depthwise loops
        defer { Threads.set(saved) }
        var rng = LCG(state: 5)
        var tested = 0
        for trial in 0..<80 {
            guard let (n, c, m, grp, g) = randomProblem(&rng, trial: trial) else { continue }
            tested += 1
            let x = rng.array(n * c * g.inputSize)
            let w = rng.array(m * (c / grp) * g.kernelSize)
            let dy = rng.array(n * m * g.outputSize)
            var dx = [Float](repeating: .nan, count: x.count), dxRef = dx
            try conv2dBackwardData(dy: dy, batch: n, outChannels: m, w: w, channels: c, group: grp, g, dx: &dx)
            convNdBackwardDataNaive(dy: dy, batch: n, outChannels: m, w: w, channels: c, group: grp, g, dx: &dxRef)
            assertCloseScaled(dx, dxRef, "dX trial \(trial): group \(grp) c \(c) m \(m) \(g)")
            var dw = [Float](repeating: .nan, count: w.count), dwRef = dw
            try conv2dBackwardWeight(x: x, batch: n, channels: c, dy: dy, outChannels: m, group: grp, g, dw: &dw)
            convNdBackwardWeightNaive(x: x, batch: n, channels: c, dy: dy, outChannels: m, group: grp, g, dw: &dwRef)
            assertCloseScaled(dw, dwRef, "dW trial \(trial): group \(grp) c \(c) m \(m) \(g)")

            // accumulate adds onto what is there.
            var dx2 = [Float](repeating: 1, count: x.count)
            try conv2dBackwardData(dy: dy, batch: n, outChannels: m, w: w, channels: c, group: grp, g, dx: &dx2, accumulate: true)
            assertCloseScaled(dx2, dxRef.map { $0 + 1 }, "accumulated dX trial \(trial)")

            // The naive references against the forward conv: Σ dy·conv(x, w) is linear in x
            // and in w, so it equals <x, dX> and <w, dW>.
            var y = [Float](repeating: 0, count: dy.count)
            conv2dNaive(x: x, batch: n, channels: c, w: w, outChannels: m, group: grp, bias: nil, g, y: &y)
            let l = dot(dy, y)
            XCTAssertEqual(dot(x, dxRef), l, accuracy: 1e-3 * max(1, abs(l)), "adjoint dX trial \(trial)")
            XCTAssertEqual(dot(w, dwRef), l, accuracy: 1e-3 * max(1, abs(l)), "adjoint dW trial \(trial)")
        }
        XCTAssertGreaterThan(tested, 50)
    }

    func testTiledBackwardMatchesNaive() throws {
        let saved = LoupeConfiguration.current
        defer { LoupeConfiguration.current = saved }
        var rng = LCG(state: 13)
        for (tile, minCols) in [(1, 1), (200, 1), (1, 12)] {
            LoupeConfiguration.update { ($0.im2colTileFloats, $0.im2colMinTileColumns) = (tile, minCols) }
            let g = geometry([11, 9], [3, 2], s: [1, 2], d: [2, 1], pb: [2, 1], pe: [1, 0])
            let x = rng.array(2 * 4 * 99), w = rng.array(6 * 2 * 6), dy = rng.array(2 * 6 * g.outputSize)
            var dx = [Float](repeating: .nan, count: x.count), dxRef = dx
            try conv2dBackwardData(dy: dy, batch: 2, outChannels: 6, w: w, channels: 4, group: 2, g, dx: &dx)
            convNdBackwardDataNaive(dy: dy, batch: 2, outChannels: 6, w: w, channels: 4, group: 2, g, dx: &dxRef)
            assertCloseScaled(dx, dxRef, "dX tile \(tile) min \(minCols)")
            var dw = [Float](repeating: .nan, count: w.count), dwRef = dw
            try conv2dBackwardWeight(x: x, batch: 2, channels: 4, dy: dy, outChannels: 6, group: 2, g, dw: &dw)
            convNdBackwardWeightNaive(x: x, batch: 2, channels: 4, dy: dy, outChannels: 6, group: 2, g, dw: &dwRef)
            assertCloseScaled(dw, dwRef, "dW tile \(tile) min \(minCols)")
        }
    }

    func testBackwardHandComputed() throws {
        // 1×1×3×3 input, 2×2 kernel [1, 2; 3, 4], no pads, stride 1 → 2×2 output.
        // dy = 1 at output (0, 0) only: dX is the kernel placed at the top-left.
        let g = geometry([3, 3], [2, 2], s: [1, 1], d: [1, 1], pb: [0, 0], pe: [0, 0])
        var dx = [Float](repeating: .nan, count: 9)
        try conv2dBackwardData(dy: [1, 0, 0, 0], batch: 1, outChannels: 1, w: [1, 2, 3, 4], channels: 1, group: 1, g, dx: &dx)
        XCTAssertEqual(dx, [1, 2, 0, 3, 4, 0, 0, 0, 0])
        // dy all ones: dX counts how many windows cover each input, times the kernel taps.
        try conv2dBackwardData(dy: [1, 1, 1, 1], batch: 1, outChannels: 1, w: [1, 2, 3, 4], channels: 1, group: 1, g, dx: &dx)
        XCTAssertEqual(dx, [1, 3, 2, 4, 10, 6, 3, 7, 4])
        // dW with dy all ones: each tap sums the 2×2 block of x it slides over.
        let x: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        var dw = [Float](repeating: .nan, count: 4)
        try conv2dBackwardWeight(x: x, batch: 1, channels: 1, dy: [1, 1, 1, 1], outChannels: 1, group: 1, g, dw: &dw)
        XCTAssertEqual(dw, [12, 16, 24, 28])
        var db = [Float](repeating: .nan, count: 1)
        convBackwardBias(dy: [1, 2, 3, 4], batch: 1, channels: 1, plane: 4, db: &db)
        XCTAssertEqual(db, [10])
    }

    func test3DNaiveIsAdjointOfForward() {
        var rng = LCG(state: 21)
        let g = geometry([3, 4, 5], [2, 2, 3], s: [1, 2, 1], d: [1, 1, 2], pb: [1, 0, 1], pe: [0, 1, 1])
        let (n, c, m, grp) = (2, 4, 6, 2)
        let x = rng.array(n * c * g.inputSize), w = rng.array(m * (c / grp) * g.kernelSize)
        let dy = rng.array(n * m * g.outputSize)
        var y = [Float](repeating: 0, count: dy.count), dx = [Float](repeating: 0, count: x.count)
        var dw = [Float](repeating: 0, count: w.count)
        convNdNaive(x: x, batch: n, channels: c, w: w, outChannels: m, group: grp, bias: nil, g, y: &y)
        convNdBackwardDataNaive(dy: dy, batch: n, outChannels: m, w: w, channels: c, group: grp, g, dx: &dx)
        convNdBackwardWeightNaive(x: x, batch: n, channels: c, dy: dy, outChannels: m, group: grp, g, dw: &dw)
        let l = dot(dy, y)
        XCTAssertEqual(dot(x, dx), l, accuracy: 1e-3 * max(1, abs(l)))
        XCTAssertEqual(dot(w, dw), l, accuracy: 1e-3 * max(1, abs(l)))
    }

    func testPoolBackwardMatchesNaive() {
        var rng = LCG(state: 17)
        for trial in 0..<30 {
            let k = [1 + rng.int(3), 1 + rng.int(3)], s = [1 + rng.int(2), 1 + rng.int(2)], d = [1 + rng.int(2), 1]
            let pb = [rng.int(2), rng.int(2)], pe = [rng.int(2), rng.int(2)]
            if pb[0] >= k[0] || pb[1] >= k[1] { continue }
            let g = geometry([4 + rng.int(4), 4 + rng.int(4)], k, s: s, d: d, pb: pb, pe: pe)
            if g.output.contains(where: { $0 < 1 }) { continue }
            let planes = 3
            let x = rng.array(planes * g.inputSize), dy = rng.array(planes * g.outputSize)
            for kind in [PoolKind.max, .average(countIncludePad: false), .average(countIncludePad: true), .lp(p: 2), .lp(p: 3)] {
                var y = [Float](repeating: 0, count: dy.count)
                pool(kind, x: x, planes: planes, g, y: &y)
                var fast = [Float](repeating: .nan, count: x.count), ref = fast
                pool2dBackward(kind, x: x, y: y, dy: dy, planes: planes, g, dx: &fast)
                poolNdBackwardNaive(kind, x: x, y: y, dy: dy, planes: planes, g, dx: &ref)
                assertCloseScaled(fast, ref, "trial \(trial) \(kind) \(g)")
            }
        }
    }

    func testPoolBackwardHandComputed() {
        // 4×4 with a tie in the first window: 5 at (0,0) and (1,1); the first in scan order wins.
        let x: [Float] = [5, 1, 2, 3,
                          0, 5, 4, 1,
                          1, 2, 9, 0,
                          3, 8, 0, 1]
        let g = geometry([4, 4], [2, 2], s: [2, 2], d: [1, 1], pb: [0, 0], pe: [0, 0])
        var y = [Float](repeating: 0, count: 4), dx = [Float](repeating: .nan, count: 16)
        pool(.max, x: x, planes: 1, g, y: &y)
        pool2dBackward(.max, x: x, y: y, dy: [1, 2, 3, 4], planes: 1, g, dx: &dx)
        XCTAssertEqual(dx, [1, 0, 0, 0,  0, 0, 2, 0,  0, 0, 4, 0,  0, 3, 0, 0])
        // Average 3×3, pad 1: the corner window has 4 taps inside (9 with count_include_pad).
        let ga = geometry([2, 2], [3, 3], s: [2, 2], d: [1, 1], pb: [1, 1], pe: [1, 1])
        XCTAssertEqual(ga.output, [1, 1])
        pool2dBackward(.average(countIncludePad: false), x: [1, 2, 3, 4], y: [0], dy: [8], planes: 1, ga, dx: &dx)
        XCTAssertEqual(Array(dx[0..<4]), [2, 2, 2, 2])
        pool2dBackward(.average(countIncludePad: true), x: [1, 2, 3, 4], y: [0], dy: [9], planes: 1, ga, dx: &dx)
        XCTAssertEqual(Array(dx[0..<4]), [1, 1, 1, 1])
        // Global max: first maximum.
        var gd = [Float](repeating: .nan, count: 4)
        globalPoolBackward(max: true, x: [1, 7, 7, 2], dy: [3], planes: 1, size: 4, dx: &gd)
        XCTAssertEqual(gd, [0, 3, 0, 0])
        globalPoolBackward(max: false, x: [1, 7, 7, 2], dy: [2], planes: 1, size: 4, dx: &gd)
        XCTAssertEqual(gd, [0.5, 0.5, 0.5, 0.5])
    }
}
