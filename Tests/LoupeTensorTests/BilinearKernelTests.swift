import XCTest
@testable import LoupeTensor

/// The bilinear kernel against its per-pixel Double reference, and crop taps against the
/// full taps they are a window of.
final class BilinearKernelTests: XCTestCase {
    func testResampleMatchesNaive() {
        var rng = SplitMix64(seed: 11)
        for (h, w, c, H, W) in [(2, 2, 1, 4, 4), (5, 7, 3, 13, 17), (7, 7, 1, 3, 2), (1, 4, 2, 3, 1), (6, 3, 4, 6, 3)] {
            let src = (0..<(h * w * c)).map { _ in rng.nextFloat() * 6 - 3 }
            var out = [Float](repeating: .nan, count: H * W * c)
            src.withUnsafeBufferPointer { s in
                out.withUnsafeMutableBufferPointer { d in
                    Bilinear.resample(s.baseAddress!, width: w, channels: c, rows: Bilinear.taps(inSize: h, outSize: H),
                                      columns: Bilinear.taps(inSize: w, outSize: W), into: d.baseAddress!)
                }
            }
            let want = Bilinear.resampleNaive(src, height: h, width: w, channels: c, toHeight: H, width: W)
            for (a, b) in zip(out, want) { XCTAssertEqual(a, b, accuracy: 1e-5, "\(h)x\(w)x\(c) → \(H)x\(W)") }
            if c == 1 { XCTAssertEqual(resizeBilinear(src, h: h, w: w, toHeight: H, width: W), out) }
        }
    }

    func testCropTapsAreAWindowOfTheFullTaps() {
        let full = Bilinear.taps(inSize: 300, outSize: 256)
        let crop = Bilinear.taps(inSize: 300, outSize: 256, offset: 16, count: 224)
        XCTAssertEqual(crop.i0, Array(full.i0[16..<240]))
        XCTAssertEqual(crop.i1, Array(full.i1[16..<240]))
        XCTAssertEqual(crop.l1, Array(full.l1[16..<240]))
        // Half-pixel centres: 2 → 4 samples at -0.25 (clamped to 0), 0.25, 0.75, 1.25 (last).
        let up = Bilinear.taps(inSize: 2, outSize: 4)
        XCTAssertEqual(up.i0, [0, 0, 0, 1])
        XCTAssertEqual(up.i1, [1, 1, 1, 1])
        XCTAssertEqual(up.l1, [0, 0.25, 0.75, 0.25])
    }
}
