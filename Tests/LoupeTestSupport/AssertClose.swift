import XCTest

/// Element by element: `|a[i] - b[i]| <= tolerance` (a NaN fails), and equal counts.
public func assertClose(_ a: [Float], _ b: [Float], _ tolerance: Float = 1e-5, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "counts", file: file, line: line)
    for (i, (x, y)) in zip(a, b).enumerated() where !(abs(x - y) <= tolerance) {
        XCTFail("element \(i): \(x) vs \(y) (tolerance \(tolerance))", file: file, line: line)
    }
}

/// The worst `|a[i] - b[i]| / max(1, |b[i]|)` at most `tolerance`: absolute for small
/// values, relative for large ones, as the fast-versus-naive kernel comparisons need.
public func assertCloseScaled(_ a: [Float], _ b: [Float], tolerance: Float = 1e-4, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, message, file: file, line: line)
    var worst: Float = 0
    for i in 0..<min(a.count, b.count) { worst = max(worst, abs(a[i] - b[i]) / max(1, abs(b[i]))) }
    XCTAssertLessThanOrEqual(worst, tolerance, message, file: file, line: line)
}
