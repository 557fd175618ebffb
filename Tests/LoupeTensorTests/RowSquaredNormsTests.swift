import XCTest
@testable import LoupeTensor

/// `rowSquaredNorms` (Loupe's C kernel, a path per ISA) against its definition written out
/// in Swift: every supported path gives the definition's value bit for bit.
final class RowSquaredNormsTests: XCTestCase {
    /// The definition: term i to partial sum i mod 8, each in index order, sums added 0 to 7.
    static func definition(_ x: ArraySlice<Float>) -> Double {
        var lanes = [Double](repeating: 0, count: 8)
        for (i, v) in x.enumerated() { lanes[i & 7] += Double(v) * Double(v) }
        return lanes.dropFirst().reduce(lanes[0], +)
    }

    func testEveryPathEqualsTheDefinition() {
        var rng = SplitMix64(seed: 7)
        // Row counts around each path's blocking (4 and 2 rows), widths around 8 and with tails.
        for (rows, d) in [(1, 1), (3, 7), (4, 8), (5, 9), (9, 64), (13, 2048), (6, 1001), (2, 0)] {
            let stride = d + 3
            // Values over a wide range of magnitudes, so that the order of additions matters.
            let x = (0..<(rows * stride)).map { _ in (rng.nextFloat() * 2 - 1) * powf(10, rng.nextFloat() * 8 - 4) }
            let want = (0..<rows).map { r in Self.definition(x[(r * stride)..<(r * stride + d)]) }
            for path in ISAPath.supported {
                var got = [Double](repeating: -1, count: rows)
                x.withUnsafeBufferPointer { p in
                    rowSquaredNorms(p.baseAddress!, rows: rows, columns: d, stride: stride, into: &got, path: path)
                }
                XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "\(path) rows \(rows) d \(d)")
            }
        }
    }

    /// The order is not the naive one: a sum that depends on it tells them apart, so the test
    /// above would notice a kernel that summed in index order.
    func testTheOrderIsObservable() {
        let x: [Float] = [1e8] + [Float](repeating: 1, count: 23)
        var naive = 0.0
        for v in x { naive += Double(v) * Double(v) }
        XCTAssertNotEqual(Self.definition(x[...]), naive)
    }
}
