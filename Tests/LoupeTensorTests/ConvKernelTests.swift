import LoupeTestSupport
import XCTest
@testable import LoupeTensor

/// Fast convolution, transposed convolution and pooling kernels against their naive
/// references on small random shapes, plus hand-computed cases.
final class ConvKernelTests: XCTestCase {
    /// The shared seeded generator (LoupeTestSupport), named here for the extensions of this class.
    typealias LCG = LoupeTestSupport.LCG

    /// Conv output sizes by the textbook formula (independent of the graph layer).
    func geometry(_ input: [Int], _ k: [Int], s: [Int], d: [Int], pb: [Int], pe: [Int]) -> ConvGeometry {
        var out: [Int] = []
        for i in 0..<input.count {
            let span: Int = (k[i] - 1) * d[i] + 1
            let extent: Int = input[i] + pb[i] + pe[i] - span
            out.append(extent / s[i] + 1)
        }
        return ConvGeometry(input: input, kernel: k, strides: s, dilations: d, padsBegin: pb, padsEnd: pe, output: out)
    }

    func assertClose(_ a: [Float], _ b: [Float], tol: Float = 1e-4, _ msg: String, file: StaticString = #filePath, line: UInt = #line) {
        assertCloseScaled(a, b, tolerance: tol, msg, file: file, line: line)
    }

    func runConv(fast: Bool, x: [Float], n: Int, c: Int, w: [Float], m: Int, group: Int, bias: [Float]?, _ g: ConvGeometry) throws -> [Float] {
        var y = [Float](repeating: .nan, count: n * m * g.outputSize)
        try x.withUnsafeBufferPointer { px in try w.withUnsafeBufferPointer { pw in try y.withUnsafeMutableBufferPointer { py in
            if let bias {
                try bias.withUnsafeBufferPointer { pb in
                    if fast { try conv2d(x: px.baseAddress!, batch: n, channels: c, w: pw.baseAddress!, outChannels: m, group: group, bias: pb.baseAddress!, g, y: py.baseAddress!) }
                    else { conv2dNaive(x: px.baseAddress!, batch: n, channels: c, w: pw.baseAddress!, outChannels: m, group: group, bias: pb.baseAddress!, g, y: py.baseAddress!) }
                }
            } else {
                if fast { try conv2d(x: px.baseAddress!, batch: n, channels: c, w: pw.baseAddress!, outChannels: m, group: group, bias: nil, g, y: py.baseAddress!) }
                else { conv2dNaive(x: px.baseAddress!, batch: n, channels: c, w: pw.baseAddress!, outChannels: m, group: group, bias: nil, g, y: py.baseAddress!) }
            }
        }}}
        return y
    }

    func testConv2dMatchesNaiveOnRandomShapes() throws {
        let saved = Threads.count
        Threads.set(2)   // exercise the parallel im2col and depthwise loops
        defer { Threads.set(saved) }
        var rng = LCG(state: 42)
        for trial in 0..<60 {
            let group = [1, 1, 2, 3][rng.int(4)]
            let depthwise = trial % 5 == 0
            let cg = depthwise ? 1 : 1 + rng.int(3)
            let c = depthwise ? 2 + rng.int(4) : cg * group
            let grp = depthwise ? c : group
            let m = depthwise ? c * (1 + rng.int(2)) : grp * (1 + rng.int(3))
            let n = 1 + rng.int(2)
            let h = 3 + rng.int(6), wd = 3 + rng.int(6)
            let k = [1 + rng.int(3), 1 + rng.int(3)]
            let s = [1 + rng.int(2), 1 + rng.int(3)]
            let d = [1 + rng.int(2), 1 + rng.int(2)]
            let pb = [rng.int(3), rng.int(2)], pe = [rng.int(2), rng.int(3)]
            let g = geometry([h, wd], k, s: s, d: d, pb: pb, pe: pe)
            if g.output.contains(where: { $0 < 1 }) { continue }
            let x = rng.array(n * c * h * wd)
            let w = rng.array(m * (c / grp) * k[0] * k[1])
            let bias: [Float]? = trial % 2 == 0 ? rng.array(m) : nil
            let fast = try runConv(fast: true, x: x, n: n, c: c, w: w, m: m, group: grp, bias: bias, g)
            let naive = try runConv(fast: false, x: x, n: n, c: c, w: w, m: m, group: grp, bias: bias, g)
            assertClose(fast, naive, "trial \(trial): group \(grp) c \(c) m \(m) \(g)")
        }
    }

    /// The SIMD 3×3 depthwise path (stride 1 and 2) against the reference, on widths around
    /// its 8-wide blocks and every padding it accepts, with and without channel multiplier.
    func testDepthwise3x3MatchesNaive() throws {
        var rng = LCG(state: 33)
        var checked = 0
        for width in [1, 2, 3, 4, 8, 9, 10, 11, 17, 18, 19, 25, 33, 56] {
            for stride in [1, 2] {
                for (pb, pe) in [(0, 0), (1, 1), (0, 1), (1, 0), (2, 2)] {
                    let h = 2 + rng.int(6)
                    let g = geometry([h, width], [3, 3], s: [stride, stride], d: [1, 1], pb: [pb, pb], pe: [pe, pe])
                    if g.output.contains(where: { $0 < 1 }) { continue }
                    XCTAssertTrue(isDepthwise3x3(g))
                    let c = 2 + rng.int(3), mult = 1 + rng.int(2), n = 1 + rng.int(2)   // group == C > 1: depthwise
                    let x = rng.array(n * c * h * width), w = rng.array(c * mult * 9)
                    let bias: [Float]? = checked % 2 == 0 ? rng.array(c * mult) : nil
                    let fast = try runConv(fast: true, x: x, n: n, c: c, w: w, m: c * mult, group: c, bias: bias, g)
                    let naive = try runConv(fast: false, x: x, n: n, c: c, w: w, m: c * mult, group: c, bias: bias, g)
                    assertClose(fast, naive, "width \(width) stride \(stride) pads \(pb),\(pe) c \(c)×\(mult)")
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 100)
    }

    /// Small images with many output channels: one im2col tile lowered by channel ranges and
    /// the GEMM split by output channels across threads (also 1×1 convs, and groups).
    func testSplitRowsMatchesNaive() throws {
        let saved = Threads.count
        Threads.set(2)
        defer { Threads.set(saved) }
        var rng = LCG(state: 77)
        for (c, m, grp, k, hw) in [(8, 96, 1, 3, 5), (5, 64, 1, 3, 7), (6, 160, 2, 3, 4), (16, 80, 1, 1, 6), (12, 130, 1, 1, 3)] {
            let pad = k / 2
            let g = geometry([hw, hw], [k, k], s: [1, 1], d: [1, 1], pb: [pad, pad], pe: [pad, pad])
            let x = rng.array(2 * c * hw * hw), w = rng.array(m * (c / grp) * k * k), b = rng.array(m)
            assertClose(try runConv(fast: true, x: x, n: 2, c: c, w: w, m: m, group: grp, bias: b, g),
                        try runConv(fast: false, x: x, n: 2, c: c, w: w, m: m, group: grp, bias: b, g),
                        "c \(c) m \(m) group \(grp) k \(k) \(hw)x\(hw)")
        }
    }

    func testTiledIm2colMatchesNaive() throws {
        // Force tiles of one or two output rows.
        let saved = LoupeConfiguration.current
        defer { LoupeConfiguration.current = saved }
        var rng = LCG(state: 9)
        for (tile, minCols) in [(1, 1), (200, 1), (1, 12)] {
            LoupeConfiguration.update { ($0.im2colTileFloats, $0.im2colMinTileColumns) = (tile, minCols) }
            let g = geometry([11, 9], [3, 2], s: [1, 2], d: [2, 1], pb: [2, 1], pe: [1, 0])
            let x = rng.array(2 * 4 * 99), w = rng.array(6 * 2 * 6), b = rng.array(6)
            assertClose(try runConv(fast: true, x: x, n: 2, c: 4, w: w, m: 6, group: 2, bias: b, g),
                        try runConv(fast: false, x: x, n: 2, c: 4, w: w, m: 6, group: 2, bias: b, g), "tile \(tile) min \(minCols)")
        }
    }

    func testPointwiseAnd1DConv() throws {
        var rng = LCG(state: 7)
        // 1×1, stride 1, no pads: GEMM straight on the input.
        let g = geometry([5, 4], [1, 1], s: [1, 1], d: [1, 1], pb: [0, 0], pe: [0, 0])
        let x = rng.array(2 * 6 * 20), w = rng.array(4 * 6), b = rng.array(4)
        assertClose(try runConv(fast: true, x: x, n: 2, c: 6, w: w, m: 4, group: 1, bias: b, g),
                    try runConv(fast: false, x: x, n: 2, c: 6, w: w, m: 4, group: 1, bias: b, g), "pointwise")
        // 1-D lifted to H = 1 against the N-d reference.
        let g1 = geometry([9], [3], s: [2], d: [2], pb: [2], pe: [1])
        let x1 = rng.array(3 * 9), w1 = rng.array(2 * 3 * 3)
        var fast = [Float](repeating: 0, count: 2 * g1.outputSize), ref = fast
        try x1.withUnsafeBufferPointer { px in try w1.withUnsafeBufferPointer { pw in
            try conv2d(x: px.baseAddress!, batch: 1, channels: 3, w: pw.baseAddress!, outChannels: 2, group: 1, bias: nil, g1.as2D!, y: &fast)
            convNdNaive(x: px.baseAddress!, batch: 1, channels: 3, w: pw.baseAddress!, outChannels: 2, group: 1, bias: nil, g1, y: &ref)
        }}
        assertClose(fast, ref, "1-D")
    }

    func testConvHandComputed() throws {
        // 1×1×3×3 input 1...9, 2×2 kernel of ones, pad 1 on top/left only, stride 2:
        // windows at rows {-1,0},{1,2} and cols {-1,0},{1,2}.
        let x: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        let g = geometry([3, 3], [2, 2], s: [2, 2], d: [1, 1], pb: [1, 1], pe: [0, 0])
        XCTAssertEqual(g.output, [2, 2])
        let y = try runConv(fast: true, x: x, n: 1, c: 1, w: [1, 1, 1, 1], m: 1, group: 1, bias: [0.5], g)
        XCTAssertEqual(y, [1.5, 5.5, 11.5, 28.5])
    }

    func testConvNdNaiveMatches2DAnd3D() throws {
        var rng = LCG(state: 3)
        let g = geometry([6, 5], [3, 2], s: [2, 1], d: [1, 2], pb: [1, 0], pe: [2, 1])
        let x = rng.array(2 * 4 * 30), w = rng.array(6 * 2 * 6), b = rng.array(6)
        let ref = try runConv(fast: false, x: x, n: 2, c: 4, w: w, m: 6, group: 2, bias: b, g)
        var nd = [Float](repeating: 0, count: ref.count)
        convNdNaive(x: x, batch: 2, channels: 4, w: w, outChannels: 6, group: 2, bias: b, g, y: &nd)
        assertClose(nd, ref, "N-d vs 2-D")
        // 3-D with a depth-1 kernel on depth 1 equals 2-D.
        let g3 = ConvGeometry(input: [1] + g.input, kernel: [1] + g.kernel, strides: [1] + g.strides, dilations: [1] + g.dilations,
                              padsBegin: [0] + g.padsBegin, padsEnd: [0] + g.padsEnd, output: [1] + g.output)
        var nd3 = [Float](repeating: 0, count: ref.count)
        convNdNaive(x: x, batch: 2, channels: 4, w: w, outChannels: 6, group: 2, bias: b, g3, y: &nd3)
        assertClose(nd3, ref, "3-D depth 1 vs 2-D")
    }

    func testConvTransposeFastMatchesNaiveAndIsAdjoint() throws {
        var rng = LCG(state: 11)
        for trial in 0..<30 {
            let group = 1 + rng.int(2)
            let c = group * (1 + rng.int(3)), m = group * (1 + rng.int(3))
            let n = 1 + rng.int(2)
            let out = [3 + rng.int(5), 3 + rng.int(5)]
            let k = [1 + rng.int(3), 1 + rng.int(3)], s = [1 + rng.int(3), 1 + rng.int(2)], d = [1 + rng.int(2), 1 + rng.int(2)]
            let pb = [rng.int(2), rng.int(2)], pe = [rng.int(2), rng.int(2)]
            // The forward conv maps `out` to the transposed conv's input.
            let g = geometry(out, k, s: s, d: d, pb: pb, pe: pe)
            if g.output.contains(where: { $0 < 1 }) { continue }
            let x = rng.array(n * c * g.outputSize)
            let w = rng.array(c * (m / group) * k[0] * k[1])
            let b = rng.array(m)
            var fast = [Float](repeating: .nan, count: n * m * g.inputSize), naive = fast
            try convTranspose2d(x: x, batch: n, channels: c, w: w, outChannels: m, group: group, bias: b, g, y: &fast)
            convTransposeNdNaive(x: x, batch: n, channels: c, w: w, outChannels: m, group: group, bias: b, g, y: &naive)
            assertClose(fast, naive, "trial \(trial) \(g)")

            // Adjoint: <conv(u), x> == <u, convT(x)> with W read as the conv's [C, M/g, ...]
            // weights (conv from m channels to c channels) and no bias.
            let u = rng.array(n * m * g.inputSize)
            var convU = [Float](repeating: 0, count: n * c * g.outputSize), convTx = [Float](repeating: 0, count: u.count)
            conv2dNaive(x: u, batch: n, channels: m, w: w, outChannels: c, group: group, bias: nil, g, y: &convU)
            convTransposeNdNaive(x: x, batch: n, channels: c, w: w, outChannels: m, group: group, bias: nil, g, y: &convTx)
            let lhs = zip(convU, x).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let rhs = zip(u, convTx).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            XCTAssertEqual(lhs, rhs, accuracy: 1e-3 * max(1, abs(lhs)), "adjoint trial \(trial)")
        }
    }

    func testIm2colHandComputed() {
        // 1 channel 2×3, 2×2 kernel, pad 1 left only, stride 1 → output 1×3.
        let x: [Float] = [1, 2, 3, 4, 5, 6]
        let g = geometry([2, 3], [2, 2], s: [1, 1], d: [1, 1], pb: [0, 1], pe: [0, 0])
        XCTAssertEqual(g.output, [1, 3])
        var col = [Float](repeating: .nan, count: 4 * 3)
        im2col2D(x, channels: 1, g, &col)
        XCTAssertEqual(col, [0, 1, 2,   1, 2, 3,   0, 4, 5,   4, 5, 6])
    }

    func pooled(_ kind: PoolKind, _ x: [Float], planes: Int, _ g: ConvGeometry, naive: Bool = false) -> [Float] {
        var y = [Float](repeating: .nan, count: planes * g.outputSize)
        if naive { poolNdNaive(kind, x: x, planes: planes, g, y: &y) } else { pool(kind, x: x, planes: planes, g, y: &y) }
        return y
    }

    func testPoolingHandComputed() {
        let x: [Float] = (1...16).map(Float.init)   // 4×4
        let g = geometry([4, 4], [2, 2], s: [2, 2], d: [1, 1], pb: [0, 0], pe: [0, 0])
        XCTAssertEqual(pooled(.max, x, planes: 1, g), [6, 8, 14, 16])
        XCTAssertEqual(pooled(.average(countIncludePad: false), x, planes: 1, g), [3.5, 5.5, 11.5, 13.5])
        // 3×3, stride 1, pad 1: top-left window holds 1, 2, 5, 6 (4 of 9 taps inside).
        let gp = geometry([4, 4], [3, 3], s: [1, 1], d: [1, 1], pb: [1, 1], pe: [1, 1])
        XCTAssertEqual(pooled(.max, x, planes: 1, gp)[0], 6)
        XCTAssertEqual(pooled(.average(countIncludePad: false), x, planes: 1, gp)[0], 14 / 4)
        XCTAssertEqual(pooled(.average(countIncludePad: true), x, planes: 1, gp)[0], 14 / 9)
        // Centre window (1,1): 1,2,3,5,6,7,9,10,11 → mean 6.
        XCTAssertEqual(pooled(.average(countIncludePad: true), x, planes: 1, gp)[5], 6)
        // Lp, p = 2, on the first 2×2 window: sqrt(1 + 4 + 25 + 36).
        XCTAssertEqual(pooled(.lp(p: 2), x, planes: 1, g)[0], Float(66).squareRoot(), accuracy: 1e-5)
        // Dilation 2, kernel 2: taps (0,0),(0,2),(2,0),(2,2) → max 11.
        let gd = geometry([4, 4], [2, 2], s: [1, 1], d: [2, 2], pb: [0, 0], pe: [0, 0])
        XCTAssertEqual(pooled(.max, x, planes: 1, gd), [11, 12, 15, 16])
        // Ceil-mode style overhang: output 2 with pad end 0 over 3 columns, stride 2, kernel 2:
        // the second window covers column 2 and the overhang column 3 (never counted).
        let gc = ConvGeometry(input: [1, 3], kernel: [1, 2], strides: [1, 2], dilations: [1, 1], padsBegin: [0, 0], padsEnd: [0, 0], output: [1, 2])
        XCTAssertEqual(pooled(.average(countIncludePad: true), [1, 2, 4], planes: 1, gc), [1.5, 4])
        // Indices of the maxima: row-major flat indices, or column-major (h + w * H).
        var my = [Float](repeating: 0, count: 4), mi = [Int64](repeating: -1, count: 4)
        maxPoolWithIndices(x: x, planes: 1, g, columnMajor: false, y: &my, indices: &mi)
        XCTAssertEqual(my, [6, 8, 14, 16])
        XCTAssertEqual(mi, [5, 7, 13, 15])
        maxPoolWithIndices(x: x, planes: 1, g, columnMajor: true, y: &my, indices: &mi)
        XCTAssertEqual(mi, [5, 13, 7, 15])
        // Global pooling.
        var gy = [Float](repeating: 0, count: 2)
        globalPool(max: false, x: x, planes: 2, size: 8, y: &gy)
        XCTAssertEqual(gy, [4.5, 12.5])
        globalPool(max: true, x: x, planes: 2, size: 8, y: &gy)
        XCTAssertEqual(gy, [8, 16])
    }

    func testPool2dMatchesNaive() {
        let saved = Threads.count
        Threads.set(2)
        defer { Threads.set(saved) }
        var rng = LCG(state: 5)
        for trial in 0..<40 {
            let h = 3 + rng.int(6), w = 3 + rng.int(6)
            let k = [1 + rng.int(3), 1 + rng.int(3)], s = [1 + rng.int(2), 1 + rng.int(3)], d = [1 + rng.int(2), 1 + rng.int(2)]
            let pb = [rng.int(2), rng.int(2)], pe = [rng.int(2), rng.int(2)]
            let g = geometry([h, w], k, s: s, d: d, pb: pb, pe: pe)
            if g.output.contains(where: { $0 < 1 }) { continue }
            let x = rng.array(3 * h * w)
            for kind in [PoolKind.max, .average(countIncludePad: false), .average(countIncludePad: true), .lp(p: 2), .lp(p: 3)] {
                assertClose(pooled(kind, x, planes: 3, g), pooled(kind, x, planes: 3, g, naive: true), "trial \(trial) \(kind) \(g)")
            }
        }
    }

    func testNormalizationHandComputed() {
        // Batch norm: channel 0 mean 1 var 3 (eps 1) scale 2 bias 0.5; channel 1 identity-ish.
        let x: [Float] = [1, 3, 5, 7]   // [1, 2, 2]
        var y = [Float](repeating: 0, count: 4)
        batchNormInference(x: x, batch: 1, channels: 2, spatial: 2, scale: [2, 1], bias: [0.5, 0], mean: [1, 0],
                           variance: [3, 0], epsilon: 1, y: &y)
        XCTAssertEqual(y, [0.5, 2.5, 5, 7])
        // Instance norm of [1, 3]: mean 2, var 1, eps 0 → [-1, 1], scaled by 3 plus 1.
        instanceNorm(x: [1, 3], batch: 1, channels: 1, spatial: 2, scale: [3], bias: [1], epsilon: 0, y: &y)
        XCTAssertEqual(Array(y[0..<2]), [-2, 4])
        // LRN, size 2 over 3 channels (one spatial position): channel c sums c and c+1.
        // x = [1, 2, 3], alpha 3, beta 1, bias 1: denominators 1 + 1.5 * [5, 13, 9].
        var l = [Float](repeating: 0, count: 3)
        lrn(x: [1, 2, 3], batch: 1, channels: 3, spatial: 1, size: 2, alpha: 3, beta: 1, bias: 1, y: &l)
        XCTAssertEqual(l[0], 1 / 8.5, accuracy: 1e-6)
        XCTAssertEqual(l[1], 2 / 20.5, accuracy: 1e-6)
        XCTAssertEqual(l[2], 3 / 14.5, accuracy: 1e-6)
    }
}
