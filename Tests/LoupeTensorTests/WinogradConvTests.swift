import Foundation
import LoupeTestSupport
import XCTest
@testable import LoupeTensor

/// Winograd against the direct kernels and the naive reference on a table of 3×3 stride-1
/// shapes, forward and input gradient, on the ISA path of this process (`LOUPE_ISA`;
/// `Scripts/test.sh` runs this target once per path), plus the residual `sum` post-op.
///
/// What oneDNN 2.6 offers (read back from the primitive, `dnnl_query_impl_info_str`):
/// Winograd only on the avx512 path (`jit_fp32_wino_2x3` forward, `jit_wino_4x3`
/// backward-data); on avx2 and baseline creating it fails and `ConvolutionPlan` runs the
/// direct kernel. Where it exists, `ConvolutionPlan.prefersWinograd` picks the layers (7×7
/// outputs and 3-channel inputs stay direct). The test asserts exactly that, so a library that gains or loses a kernel
/// shows up here.
///
/// Tolerance: max |fast − reference| ≤ 1e-5 · max |reference| (as OneDNNConvTests).
final class WinogradConvTests: XCTestCase {
    typealias Case = OneDNNConvTests.Case

    static func same3x3(_ name: String, n: Int = 1, c: Int, m: Int, hw: Int, relu: Bool = false, bias: Bool = true) -> Case {
        Case(name: name, n: n, c: c, m: m, h: hw, w: hw, k: [3, 3], pb: [1, 1], pe: [1, 1],
             clip: relu ? (0, .infinity) : nil, bias: bias)
    }

    static let cases: [Case] = [
        same3x3("64->64 14x14, Relu", c: 64, m: 64, hw: 14, relu: true),
        same3x3("32->48 28x28, no bias", c: 32, m: 48, hw: 28, bias: false),
        same3x3("batch 2, 16->16 56x56", n: 2, c: 16, m: 16, hw: 56),
        same3x3("128->128 7x7", c: 128, m: 128, hw: 7),
        same3x3("batch 2, 64->64 28x28, Relu", n: 2, c: 64, m: 64, hw: 28, relu: true),
        same3x3("256->256 14x14 (ResNet layer 3)", c: 256, m: 256, hw: 14),
        same3x3("odd channels 17->33 12x12", c: 17, m: 33, hw: 12),
        same3x3("3->16 32x32 stem", c: 3, m: 16, hw: 32),
    ]

    /// Runs every case with Winograd allowed and not; returns the implementations used.
    func checkEveryCase(threads: Int) throws -> [(name: String, winograd: Bool, forward: String, backward: String)] {
        let saved = (LoupeConfiguration.current, Threads.count)
        Threads.set(threads)
        defer { LoupeConfiguration.current = saved.0; Threads.set(saved.1) }
        var used: [(String, Bool, String, String)] = []
        var worst: [Bool: Float] = [true: 0, false: 0]
        for (i, t) in Self.cases.enumerated() {
            var outputs: [Bool: OneDNNConvTests.Outputs] = [:]
            for winograd in [true, false] {
                LoupeConfiguration.update { $0.winograd = winograd }
                let o = try OneDNNConvTests.run(t, seed: UInt64(300 + i), engine: .onednn)
                outputs[winograd] = o
                let ey = OneDNNConvTests.relativeError(o.y, o.yRef), edx = OneDNNConvTests.relativeError(o.dx, o.dxRef)
                worst[winograd] = max(worst[winograd]!, ey, edx)
                XCTAssertLessThanOrEqual(ey, OneDNNConvTests.relativeTolerance, "winograd \(winograd), forward: \(t.name)")
                XCTAssertLessThanOrEqual(edx, OneDNNConvTests.relativeTolerance, "winograd \(winograd), input gradient: \(t.name)")
                let plan = ConvolutionPlan(), w = [Float](repeating: 0.01, count: t.m * t.c * 9)
                let f = try plan.implementation(batch: t.n, channels: t.c, weights: w, outChannels: t.m, group: 1, t.geometry)
                let b = try plan.implementation(batch: t.n, channels: t.c, weights: w, outChannels: t.m, group: 1, t.geometry,
                                                backward: true)
                used.append((t.name, winograd, f, b))
            }
            // Winograd against direct: within the tolerance of each other too.
            let a = outputs[true]!, d = outputs[false]!
            XCTAssertLessThanOrEqual(OneDNNConvTests.relativeError(a.y, d.y), 2 * OneDNNConvTests.relativeTolerance, t.name)
            XCTAssertLessThanOrEqual(OneDNNConvTests.relativeError(a.dx, d.dx), 2 * OneDNNConvTests.relativeTolerance, t.name)
        }
        let path = try ISAPath.current().rawValue
        print("WinogradConvTests: ISA path \(path) (\(ISAPath.kernelISA)), \(threads) threads: worst relative error "
              + "\(worst[true]!) with Winograd allowed, \(worst[false]!) direct, over \(Self.cases.count) shapes")
        return used
    }

    func testWinogradMatchesDirectAndNaive() throws {
        let used = try checkEveryCase(threads: 2)
        _ = try checkEveryCase(threads: 1)
        for u in used where u.winograd {
            print("WinogradConvTests: \(u.name): forward \(u.forward), backward-data \(u.backward)")
        }
        for u in used where !u.winograd {
            XCTAssertFalse(u.forward.contains("wino") || u.backward.contains("wino"), "--exact: \(u.name) \(u.forward) \(u.backward)")
        }
        let allowed = used.filter(\.winograd)
        switch try ISAPath.current() {
        case .avx512:
            // oneDNN 2.6 on AVX-512: F(2,3) forward where ConvolutionPlan asks for it (14×14 and
            // more, 64 input channels and more), F(4,3) backward-data from 28×28 outputs.
            XCTAssertTrue(allowed[0].forward.contains("wino"), "\(allowed[0])")
            XCTAssertTrue(allowed[1].backward.contains("wino"), "\(allowed[1])")
            XCTAssertFalse(allowed[1].forward.contains("wino"), "forward with fewer than 64 input channels stays direct: \(allowed[1])")
            XCTAssertTrue(allowed[4].forward.contains("wino") && allowed[4].backward.contains("wino"), "\(allowed[4])")
            XCTAssertFalse(allowed[0].backward.contains("wino"), "14×14 backward-data stays direct: \(allowed[0])")
            XCTAssertFalse(allowed[3].forward.contains("wino"), "7×7 stays direct: \(allowed[3])")
            XCTAssertFalse(allowed[7].forward.contains("wino"), "3-channel stem stays direct: \(allowed[7])")
        case .avx2, .baseline:
            for u in allowed {
                XCTAssertFalse(u.forward.contains("wino") || u.backward.contains("wino"), "no Winograd in oneDNN 2.6 here: \(u)")
            }
        }
    }

    /// The residual `sum` post-op: y = clip(conv(x) + b + addend), direct and Winograd, into a
    /// separate buffer and in place over the addend.
    func testSumPostOpAddsTheResidual() throws {
        let saved = LoupeConfiguration.current
        defer { LoupeConfiguration.current = saved }
        let cases = [Self.cases[0], Self.cases[1], OneDNNConvTests.cases[0], OneDNNConvTests.cases[9]]
        for engine in ConvEngine.allCases {
            for winograd in [true, false] {
                LoupeConfiguration.update { $0.winograd = winograd; $0.convolutions = engine }
                for (i, t) in cases.enumerated() {
                    let g = t.geometry
                    var rng = LCG(state: UInt64(500 + i))
                    let x = rng.array(t.n * t.c * g.inputSize)
                    let w = rng.array(t.m * (t.c / t.group) * g.kernelSize)
                    let b: [Float]? = t.bias ? rng.array(t.m) : nil
                    let addend = rng.array(t.n * t.m * g.outputSize)
                    var ref = [Float](repeating: 0, count: addend.count)
                    conv2dNaive(x: x, batch: t.n, channels: t.c, w: w, outChannels: t.m, group: t.group, bias: b, g, y: &ref)
                    let (lo, hi) = t.clip ?? (-.infinity, .infinity)
                    ref = zip(ref, addend).map { min(max($0 + $1, lo), hi) }
                    let plan = ConvolutionPlan()
                    var y = [Float](repeating: .nan, count: addend.count), inPlace = addend
                    try OneDNNConvTests.withOptional(b) { pb in
                        try plan.forward(x: x, batch: t.n, channels: t.c, weights: w, outChannels: t.m, group: t.group,
                                         bias: pb, g, clip: t.clip, addend: addend, y: &y)
                        try inPlace.withUnsafeMutableBufferPointer { p in
                            try plan.forward(x: x, batch: t.n, channels: t.c, weights: w, outChannels: t.m, group: t.group,
                                             bias: pb, g, clip: t.clip, addend: UnsafePointer(p.baseAddress!), y: p.baseAddress!)
                        }
                    }
                    let what = "\(engine), winograd \(winograd): \(t.name)"
                    XCTAssertLessThanOrEqual(OneDNNConvTests.relativeError(y, ref), OneDNNConvTests.relativeTolerance, what)
                    XCTAssertLessThanOrEqual(OneDNNConvTests.relativeError(inPlace, ref), OneDNNConvTests.relativeTolerance, "in place, " + what)
                }
            }
        }
    }
}
