import Foundation
import LoupeTestSupport
import XCTest
@testable import LoupeTensor

/// The fast convolution paths (`ConvolutionPlan` on oneDNN and on im2col + OpenBLAS) against
/// the naive reference kernels, forward (bias, fused Relu/Clip) and input gradient, over a
/// table of shapes, on the ISA path of this process.
///
/// oneDNN fixes its ISA cap at its first kernel, so one process runs one path: the path is
/// chosen by `LOUPE_ISA` (the same switch as `ISAPath.select`), and `Scripts/test.sh` runs
/// these tests once per path the CPU supports. The OpenBLAS test runs this binary twice.
///
/// Tolerance: max |fast − reference| ≤ 1e-5 · max |reference| per output tensor (the
/// reference accumulates in Double; oneDNN's kernels measured at most 3.5e-6 in the spike).
final class OneDNNConvTests: XCTestCase {
    static let relativeTolerance: Float = 1e-5

    struct Case {
        var name: String
        var n = 1, c: Int, m: Int, group = 1
        var h: Int, w: Int
        var k: [Int], s = [1, 1], d = [1, 1], pb: [Int], pe: [Int]
        var clip: (Float, Float)? = nil
        var bias = true

        var geometry: ConvGeometry {
            var out: [Int] = []
            for i in 0..<2 {
                let span = (k[i] - 1) * d[i] + 1
                out.append(([h, w][i] + pb[i] + pe[i] - span) / s[i] + 1)
            }
            return ConvGeometry(input: [h, w], kernel: k, strides: s, dilations: d, padsBegin: pb, padsEnd: pe, output: out)
        }
    }

    static let cases: [Case] = [
        Case(name: "1x1", c: 16, m: 32, h: 9, w: 9, k: [1, 1], pb: [0, 0], pe: [0, 0]),
        Case(name: "1x1 stride 2, Relu", c: 24, m: 48, h: 13, w: 13, k: [1, 1], s: [2, 2], pb: [0, 0], pe: [0, 0], clip: (0, .infinity)),
        Case(name: "3x3", c: 16, m: 24, h: 14, w: 14, k: [3, 3], pb: [1, 1], pe: [1, 1]),
        Case(name: "3x3 Relu, no bias", c: 32, m: 32, h: 7, w: 7, k: [3, 3], pb: [1, 1], pe: [1, 1], clip: (0, .infinity), bias: false),
        Case(name: "7x7 stride 2 stem", c: 3, m: 16, h: 23, w: 23, k: [7, 7], s: [2, 2], pb: [3, 3], pe: [3, 3], clip: (0, .infinity)),
        Case(name: "dilated 3x3", c: 8, m: 8, h: 15, w: 15, k: [3, 3], d: [2, 2], pb: [2, 2], pe: [2, 2]),
        Case(name: "dilated 3x2, uneven", c: 6, m: 10, h: 12, w: 11, k: [3, 2], s: [1, 2], d: [2, 3], pb: [1, 0], pe: [2, 1]),
        Case(name: "grouped 3", c: 12, m: 18, group: 3, h: 10, w: 10, k: [3, 3], pb: [1, 1], pe: [1, 1]),
        Case(name: "grouped 2, 8 channels per group", c: 16, m: 16, group: 2, h: 9, w: 9, k: [3, 3], s: [2, 2], pb: [1, 1], pe: [1, 1]),
        Case(name: "depthwise 3x3, ReLU6", c: 32, m: 32, group: 32, h: 17, w: 17, k: [3, 3], pb: [1, 1], pe: [1, 1], clip: (0, 6)),
        Case(name: "depthwise 3x3 stride 2", c: 24, m: 24, group: 24, h: 15, w: 15, k: [3, 3], s: [2, 2], pb: [1, 1], pe: [1, 1]),
        Case(name: "depthwise 5x5, multiplier 2", c: 8, m: 16, group: 8, h: 11, w: 11, k: [5, 5], pb: [2, 2], pe: [2, 2]),
        Case(name: "odd sizes: 3x5, strides 2x1, asymmetric pads", c: 5, m: 7, h: 11, w: 9, k: [3, 5], s: [2, 1], pb: [1, 2], pe: [0, 1]),
        Case(name: "odd channels 17 -> 33, 5x5", c: 17, m: 33, h: 13, w: 7, k: [5, 5], pb: [2, 2], pe: [2, 2]),
        Case(name: "1-D lifted (H = 1)", c: 9, m: 12, h: 1, w: 31, k: [1, 3], s: [1, 2], pb: [0, 1], pe: [0, 1]),
        Case(name: "batch 3, 3x3", n: 3, c: 16, m: 16, h: 8, w: 8, k: [3, 3], pb: [1, 1], pe: [1, 1], clip: (-1, 1)),
        Case(name: "batch 2, 1x1 stride 1, 64 -> 128", n: 2, c: 64, m: 128, h: 6, w: 6, k: [1, 1], pb: [0, 0], pe: [0, 0]),
    ]

    struct Outputs { var y: [Float], yRef: [Float], dx: [Float], dxRef: [Float] }

    /// Forward and input gradient of case `t` through a fresh plan on `engine`, beside the
    /// naive references.
    static func run(_ t: Case, seed: UInt64, engine: ConvEngine) throws -> Outputs {
        let saved = LoupeConfiguration.current
        LoupeConfiguration.update { $0.convolutions = engine }
        defer { LoupeConfiguration.current = saved }
        let g = t.geometry
        var rng = LCG(state: seed)
        let x = rng.array(t.n * t.c * g.inputSize)
        let w = rng.array(t.m * (t.c / t.group) * g.kernelSize)
        let b: [Float]? = t.bias ? rng.array(t.m) : nil
        let dy = rng.array(t.n * t.m * g.outputSize)
        let plan = ConvolutionPlan()
        var y = [Float](repeating: .nan, count: dy.count), yRef = y
        var dx = [Float](repeating: .nan, count: x.count), dxRef = dx
        try x.withUnsafeBufferPointer { px in
            try withOptional(b) { pb in
                try y.withUnsafeMutableBufferPointer { py in
                    try plan.forward(x: px.baseAddress!, batch: t.n, channels: t.c, weights: w, outChannels: t.m, group: t.group,
                                     bias: pb, g, clip: t.clip, y: py.baseAddress!)
                }
                w.withUnsafeBufferPointer { pw in
                    conv2dNaive(x: px.baseAddress!, batch: t.n, channels: t.c, w: pw.baseAddress!, outChannels: t.m,
                                group: t.group, bias: pb, g, y: &yRef)
                }
            }
        }
        if let (lo, hi) = t.clip { yRef = yRef.map { min(max($0, lo), hi) } }
        try dy.withUnsafeBufferPointer { pdy in
            try dx.withUnsafeMutableBufferPointer { pdx in
                try plan.backwardData(dy: pdy.baseAddress!, batch: t.n, outChannels: t.m, weights: w, channels: t.c,
                                      group: t.group, g, dx: pdx.baseAddress!)
            }
        }
        convNdBackwardDataNaive(dy: dy, batch: t.n, outChannels: t.m, w: w, channels: t.c, group: t.group, g, dx: &dxRef)
        return Outputs(y: y, yRef: yRef, dx: dx, dxRef: dxRef)
    }

    /// A plan makes one primitive per shape and keeps it: calling again with the same
    /// weights, clipped or not, adds nothing (an unclipped key once held a NaN, never equal
    /// to itself, so every call made a new primitive and memory grew run after run).
    func testThePlanReusesItsPrimitives() throws {
        for t in [Self.cases[0], Self.cases[1]] {
            let g = t.geometry
            var rng = LCG(state: 5)
            let x = rng.array(t.n * t.c * g.inputSize), w = rng.array(t.m * t.c * g.kernelSize)
            let dy = rng.array(t.n * t.m * g.outputSize)
            var y = [Float](repeating: 0, count: dy.count), dx = x
            let plan = ConvolutionPlan()
            for _ in 0..<3 {
                try plan.forward(x: x, batch: t.n, channels: t.c, weights: w, outChannels: t.m, group: 1, bias: nil, g,
                                 clip: t.clip, y: &y)
                try plan.backwardData(dy: dy, batch: t.n, outChannels: t.m, weights: w, channels: t.c, group: 1, g, dx: &dx)
            }
            XCTAssertEqual(plan.cachedConvolutions, 2, "\(t.name): one forward and one backward-data primitive")
        }
    }

    static func withOptional<R>(_ a: [Float]?, _ body: (UnsafePointer<Float>?) throws -> R) rethrows -> R {
        guard let a else { return try body(nil) }
        return try a.withUnsafeBufferPointer { try body($0.baseAddress) }
    }

    /// max |a − ref| / max |ref|.
    static func relativeError(_ a: [Float], _ ref: [Float]) -> Float {
        var e: Float = 0, m: Float = 0
        for (u, v) in zip(a, ref) {
            let d = abs(u - v)
            e = d.isNaN ? .infinity : max(e, d)
            m = max(m, abs(v))
        }
        return m > 0 ? e / m : e
    }

    func checkEveryCase(engine: ConvEngine, threads: Int) throws {
        let saved = Threads.count
        Threads.set(threads)
        defer { Threads.set(saved) }
        var worst: Float = 0
        for (i, t) in Self.cases.enumerated() {
            let o = try Self.run(t, seed: UInt64(100 + i), engine: engine)
            let ey = Self.relativeError(o.y, o.yRef), edx = Self.relativeError(o.dx, o.dxRef)
            worst = max(worst, ey, edx)
            let path = try ISAPath.current().rawValue
            XCTAssertLessThanOrEqual(ey, Self.relativeTolerance, "\(engine) \(path) \(threads) threads, forward: \(t.name) \(t.geometry)")
            XCTAssertLessThanOrEqual(edx, Self.relativeTolerance, "\(engine) \(path) \(threads) threads, input gradient: \(t.name) \(t.geometry)")
        }
        print("OneDNNConvTests: \(engine) on ISA path \(try ISAPath.current().rawValue) (\(ISAPath.kernelISA)), \(threads) threads: worst relative error \(worst) over \(Self.cases.count) shapes")
    }

    func testOneDNNMatchesNaive() throws {
        try checkEveryCase(engine: .onednn, threads: 2)
        try checkEveryCase(engine: .onednn, threads: 1)
    }

    func testBLASPathMatchesNaive() throws {
        try checkEveryCase(engine: .blas, threads: 2)
    }

    /// The input gradient on tensors as a fused gradient plan runs it: y from the forward pass
    /// carried in the primitive's layout, dY (NCHW) brought into the input-gradient
    /// primitive's layout beside y, masked there by y > 0 (a fused Relu), and dX carried.
    /// dX and the masked dY, back in NCHW, equal the naive kernels on the NCHW mask.
    func testCarriedInputGradientMatchesNaive() throws {
        var worst: Float = 0
        for (i, t) in Self.cases.enumerated() {
            let g = t.geometry
            var rng = LCG(state: UInt64(300 + i))
            let x = Tensor(shape: [t.n, t.c, t.h, t.w], floats: rng.array(t.n * t.c * g.inputSize))
            let w = rng.array(t.m * (t.c / t.group) * g.kernelSize)
            let dy = Tensor(shape: [t.n, t.m] + g.output, floats: rng.array(t.n * t.m * g.outputSize))
            let plan = ConvolutionPlan()
            let y = try XCTUnwrap(try plan.forward(x: x, weights: w, outChannels: t.m, group: t.group, bias: nil, g,
                                                   carry: true, shape: dy.shape))
            let r = try XCTUnwrap(try plan.backwardData(dy: dy, along: [y], prepare: { d, a in
                try XCTUnwrap(try Tensor.zipStored(d, a[0]) { pd, py, out in for k in 0..<out.count { out[k] = py[k] > 0 ? pd[k] : 0 } })
            }, weights: w, channels: t.c, group: t.group, g, carry: true, shape: x.shape))
            let yPlain = try y.plain().floats
            let masked = zip(dy.floats, yPlain).map { $1 > 0 ? $0 : 0 }
            var dxRef = [Float](repeating: .nan, count: x.count)
            convNdBackwardDataNaive(dy: masked, batch: t.n, outChannels: t.m, w: w, channels: t.c, group: t.group, g, dx: &dxRef)
            XCTAssertEqual(try r.dy.plain().floats, masked, t.name)
            let e = Self.relativeError(try r.dx.plain().floats, dxRef)
            worst = max(worst, e)
            let path = try ISAPath.current().rawValue
            XCTAssertLessThanOrEqual(e, Self.relativeTolerance, "\(path): \(t.name) \(g)")
        }
        print("OneDNNConvTests: carried input gradients on ISA path \(try ISAPath.current().rawValue): worst relative error \(worst)")
    }

    /// The path in force is the one `LOUPE_ISA` asked for (else the fastest the CPU has), and
    /// oneDNN's kernels are that path's.
    func testISAPathIsTheOneAskedFor() throws {
        let path = try ISAPath.current()
        if let asked = ProcessInfo.processInfo.environment["LOUPE_ISA"], !asked.isEmpty {
            XCTAssertEqual(path.rawValue, asked.lowercased())
        } else {
            XCTAssertEqual(path, ISAPath.detected)
        }
        XCTAssertTrue(ISAPath.supported.contains(path))
        XCTAssertThrowsError(try ISAPath.select(path == .baseline ? .avx2 : .baseline), "the path cannot change once fixed")
        XCTAssertNoThrow(try ISAPath.select(path))
        let t = Self.cases[2]
        let impl = try ConvolutionPlan().implementation(batch: 1, channels: t.c, weights: [Float](repeating: 0.5, count: t.m * t.c * 9),
                                                        outChannels: t.m, group: 1, t.geometry)
        switch path {
        case .avx512: XCTAssertTrue(impl.contains("avx512"), impl)
        case .avx2: XCTAssertTrue(impl.contains("avx2"), impl)
        case .baseline: XCTAssertFalse(impl.contains("avx"), impl)
        }
        let kernelISA = ISAPath.kernelISA
        switch path {
        case .avx512: XCTAssertTrue(kernelISA.hasPrefix("avx512"), kernelISA)
        case .avx2: XCTAssertEqual(kernelISA, "avx2")
        case .baseline: XCTAssertEqual(kernelISA, "sse41")
        }
    }

    /// Weights are keyed by identity: new weights of the same shape give new results (not the
    /// prepared copy of the old ones), and the same weights reuse the primitive.
    func testPreparedWeightsFollowTheArray() throws {
        let t = Self.cases[2], g = t.geometry
        var rng = LCG(state: 5)
        let x = rng.array(t.c * g.inputSize)
        let plan = ConvolutionPlan()
        func forward(_ w: [Float]) throws -> [Float] {
            var y = [Float](repeating: .nan, count: t.m * g.outputSize)
            try plan.forward(x: x, batch: 1, channels: t.c, weights: w, outChannels: t.m, group: 1, bias: nil, g, y: &y)
            return y
        }
        for _ in 0..<3 {
            let w = rng.array(t.m * t.c * 9)
            var ref = [Float](repeating: 0, count: t.m * g.outputSize)
            conv2dNaive(x: x, batch: 1, channels: t.c, w: w, outChannels: t.m, group: 1, bias: nil, g, y: &ref)
            XCTAssertLessThanOrEqual(Self.relativeError(try forward(w), ref), Self.relativeTolerance)
            XCTAssertEqual(try forward(w), try forward(w), "the same weights twice")
        }
    }

    /// OpenBLAS's kernel family plays no part in the convolutions: this test binary run with
    /// `OPENBLAS_CORETYPE=Prescott` and with it unset (Loupe then picks SkylakeX or Haswell)
    /// writes bit-identical forward and input-gradient outputs for every case.
    func testOpenBLASCoreTypeDoesNotChangeConvolutions() throws {
        let env = ProcessInfo.processInfo.environment
        if let dump = env["LOUPE_TEST_CONV_DUMP"] {
            // The child: write every case's outputs.
            Threads.set(2)
            var bytes = Data()
            for (i, t) in Self.cases.enumerated() {
                let o = try Self.run(t, seed: UInt64(100 + i), engine: .onednn)
                for a in [o.y, o.dx] { a.withUnsafeBytes { bytes.append(contentsOf: $0) } }
            }
            try bytes.write(to: URL(fileURLWithPath: dump))
            return
        }
        let folder = try TemporaryFolder.make("conv-dump", for: self)
        var dumps: [Data] = []
        for coreType in ["Prescott", nil] {
            let out = folder.appendingPathComponent("conv-\(coreType ?? "unset").bin")
            var childEnv = env
            childEnv["OPENBLAS_CORETYPE"] = coreType
            childEnv["LOUPE_TEST_CONV_DUMP"] = out.path
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            p.arguments = ["LoupeTensorTests.OneDNNConvTests/testOpenBLASCoreTypeDoesNotChangeConvolutions"]
            p.environment = childEnv
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, "child with OPENBLAS_CORETYPE=\(coreType ?? "unset")")
            dumps.append(try Data(contentsOf: out))
        }
        XCTAssertGreaterThan(dumps[0].count, 1000)
        XCTAssertEqual(dumps[0], dumps[1], "convolution outputs differ between OPENBLAS_CORETYPE=Prescott and unset")
    }
}
