import Foundation
import LoupeTestSupport
import XCTest
@testable import LoupeTensor

/// Issue 17 point 7: results are identical across `--threads` values wherever the kernel
/// allows it. The im2col + OpenBLAS path (`LOUPE_CONV=blas`) must give the same bits for
/// every shape. Every convolution shape of `OneDNNConvTests` and `WinogradConvTests` (forward and
/// input gradient, Winograd allowed and not) runs on 1 and on 2 threads through a fresh plan,
/// on the ISA path of this process (`Scripts/test.sh` runs this target once per path).
///
/// oneDNN's direct kernels (`brgconv`, `jit`, `jit_dw`, `brdgmm_dw`, ...) split the work over
/// images, output positions and channels, never a reduction: their results must be the same
/// bits. Two kinds of kernel are not, by design, and must only agree within the tolerance
/// (the counts are printed; docs/engine.md "Threads"):
/// - Winograd's forward kernel (`jit_fp32_wino_2x3`, avx512 only) tiles a batch over the
///   threads, so with more than one image its rounding depends on the thread count (seen on
///   the Xeon model 207: batch 2, 16→16 at 56×56 and 64→64 at 28×28);
/// - oneDNN's GEMM-based convolution (`gemm:jit`, which it picks for grouped convolutions with
///   few channels per group on avx2 and for odd channel counts on baseline) lets its GEMM
///   split the reduction (seen on avx2: 3 groups of 4 channels, 18 of 1,800 outputs).
final class ThreadCountDeterminismTests: XCTestCase {
    /// How many elements of `a` and `b` differ in their bits.
    static func differing(_ a: [Float], _ b: [Float]) -> Int {
        zip(a, b).reduce(a.count == b.count ? 0 : Int.max / 2) { $0 + ($1.0.bitPattern == $1.1.bitPattern ? 0 : 1) }
    }

    static func bitIdenticalByDesign(_ implementation: String) -> Bool {
        !implementation.contains("wino") && !implementation.contains("gemm")
    }

    func testOneAndTwoThreadsGiveTheSameBitsWhereTheKernelAllows() throws {
        let saved = (LoupeConfiguration.current, Threads.count)
        defer { LoupeConfiguration.current = saved.0; Threads.set(saved.1) }
        let path = try ISAPath.current().rawValue
        var identicalChecked = 0
        for winograd in [false, true] {
            LoupeConfiguration.update { $0.winograd = winograd }
            for (i, t) in (OneDNNConvTests.cases + WinogradConvTests.cases).enumerated() {
                let probe = ConvolutionPlan(), w = [Float](repeating: 0.01, count: t.m * (t.c / t.group) * t.geometry.kernelSize)
                let forward = try probe.implementation(batch: t.n, channels: t.c, weights: w, outChannels: t.m, group: t.group, t.geometry)
                let backward = try probe.implementation(batch: t.n, channels: t.c, weights: w, outChannels: t.m, group: t.group,
                                                        t.geometry, backward: true)
                Threads.set(1)
                let one = try OneDNNConvTests.run(t, seed: UInt64(500 + i), engine: .onednn)
                Threads.set(2)
                let two = try OneDNNConvTests.run(t, seed: UInt64(500 + i), engine: .onednn)
                // Not trivially equal: finite and not all zero.
                XCTAssertTrue(one.y.contains { $0 != 0 } && one.y.allSatisfy(\.isFinite), t.name)
                XCTAssertTrue(one.dx.contains { $0 != 0 } && one.dx.allSatisfy(\.isFinite), t.name)
                for (what, impl, a, b) in [("forward", forward, one.y, two.y), ("input gradient", backward, one.dx, two.dx)] {
                    let differ = Self.differing(a, b)
                    let label = "\(path), \(what) \(t.name) (\(impl))"
                    if Self.bitIdenticalByDesign(impl) {
                        identicalChecked += 1
                        XCTAssertEqual(differ, 0, "\(label): \(differ) of \(a.count) values differ between 1 and 2 threads")
                    } else {
                        let e = OneDNNConvTests.relativeError(b, a)
                        XCTAssertLessThanOrEqual(e, OneDNNConvTests.relativeTolerance, label)
                        print("ThreadCountDeterminismTests: \(label): \(differ) of \(a.count) values differ between 1 and 2 threads, max relative \(e)")
                    }
                }
            }
        }
        // The im2col + OpenBLAS path (`LOUPE_CONV=blas`): cut into GEMMs by the shape only.
        // Besides the tables, shapes large enough for each of its ways to cut: wide 1×1 (column
        // pieces), narrow 1×1 with many output channels (row parts), a 3×3 in several im2col
        // tiles, and one tile with many output channels.
        let blasShapes = [
            OneDNNConvTests.Case(name: "1x1 64->96 at 40x40", c: 64, m: 96, h: 40, w: 40, k: [1, 1], pb: [0, 0], pe: [0, 0]),
            OneDNNConvTests.Case(name: "1x1 64->256 at 14x14", c: 64, m: 256, h: 14, w: 14, k: [1, 1], pb: [0, 0], pe: [0, 0]),
            WinogradConvTests.same3x3("3x3 64->64 at 56x56, tiled", c: 64, m: 64, hw: 56),
            WinogradConvTests.same3x3("3x3 32->128 at 12x12, one tile", c: 32, m: 128, hw: 12),
        ]
        for (i, t) in (OneDNNConvTests.cases + WinogradConvTests.cases + blasShapes).enumerated() {
            Threads.set(1)
            let one = try OneDNNConvTests.run(t, seed: UInt64(700 + i), engine: .blas)
            Threads.set(2)
            let two = try OneDNNConvTests.run(t, seed: UInt64(700 + i), engine: .blas)
            for (what, a, b) in [("forward", one.y, two.y), ("input gradient", one.dx, two.dx)] {
                let differ = Self.differing(a, b)
                XCTAssertEqual(differ, 0, "blas, \(what) \(t.name): \(differ) of \(a.count) values differ between 1 and 2 threads")
            }
        }
        // Most kernels are direct ones: the bit-identity check must have had something to check.
        XCTAssertGreaterThanOrEqual(identicalChecked, 30)
        print("ThreadCountDeterminismTests: \(path): \(identicalChecked) results checked bit for bit")
    }
}
