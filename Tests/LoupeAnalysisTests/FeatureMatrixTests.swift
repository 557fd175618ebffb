import XCTest
import LoupeTensor
@testable import LoupeAnalysis

final class FeatureMatrixTests: XCTestCase {
    func testNormalizedRowsHaveUnitLengthAndKeepDirection() {
        var rng = SplitMix64(seed: 7)
        let rows = 9, columns = 33
        var values = (0..<(rows * columns)).map { _ in rng.nextFloat() * 4 - 2 }
        for j in 0..<columns { values[4 * columns + j] = 0 }  // one zero row
        let m = FeatureMatrix(rows: rows, columns: columns, values: values)
        let n = m.normalizedRows()
        for i in 0..<rows {
            let length = n.row(i).reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            if i == 4 {
                XCTAssertEqual(length, 0)
                continue
            }
            XCTAssertEqual(length, 1, accuracy: 1e-6)
            let norm = m.row(i).reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            for (a, b) in zip(m.row(i), n.row(i)) { XCTAssertEqual(Double(b), Double(a) / norm, accuracy: 1e-6) }
        }
        XCTAssertEqual(m.squaredNorms()[4], 0)
    }
}
