import Foundation
import XCTest
@testable import LoupeTensor

/// The float32 softmax kernel (rows in parallel, `inner` lanes) against the Double row softmax.
final class SoftmaxKernelTests: XCTestCase {
    func testRowSoftmaxHandComputed() {
        let p = softmaxDouble([0, Float(log(3.0))])
        XCTAssertEqual(p[0], 0.25, accuracy: 1e-7)
        XCTAssertEqual(p[1], 0.75, accuracy: 1e-7)
        // Large scores: the maximum is subtracted first, so nothing overflows.
        XCTAssertEqual(softmax([1000, 1000]), [0.5, 0.5])
        XCTAssertEqual(softmaxDouble([-.infinity, 0]), [0, 1])
        XCTAssertEqual(softmaxDouble([]), [])
    }

    func testKernelMatchesRowReference() throws {
        var rng = SplitMix64(seed: 3)
        for (outer, n, inner) in [(3, 7, 1), (2, 5, 4), (1, 1, 3), (4, 10, 6)] {
            let shape = [outer, n, inner]
            let x = Tensor(shape: shape, floats: (0..<(outer * n * inner)).map { _ in rng.nextFloat() * 20 - 10 })
            for log in [false, true] {
                let y = try softmax(x, outer: outer, n: n, inner: inner, log: log)
                XCTAssertEqual(y.shape, shape)
                for o in 0..<outer {
                    for i in 0..<inner {
                        let row = (0..<n).map { x.floats[(o * n + $0) * inner + i] }
                        let want = softmaxDouble(row)
                        for k in 0..<n {
                            let got = Double(y.floats[(o * n + k) * inner + i])
                            let w = log ? Foundation.log(want[k]) : want[k]
                            XCTAssertEqual(got, w, accuracy: 1e-5 * max(1, abs(w)), "\(shape) log \(log) at \(o),\(k),\(i)")
                        }
                    }
                }
            }
        }
    }
}
