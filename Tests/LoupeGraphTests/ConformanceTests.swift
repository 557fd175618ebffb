import Foundation
import LoupeGraph
import XCTest

/// The ONNX backend test vectors. `Fixtures/conformance-expected-pass.txt` lists the cases
/// that pass; any of them failing is a regression. Set LOUPE_CONFORMANCE_FILTER to a
/// comma-separated list of substrings to run a subset (printing every failure), or
/// LOUPE_CONFORMANCE_UPDATE=1 to rewrite the list from the current results.
final class ConformanceTests: XCTestCase {
    static let expectedFile = Conformance.packageRoot
        .appendingPathComponent("Tests/LoupeGraphTests/Fixtures/conformance-expected-pass.txt")

    func testConformance() throws {
        let env = ProcessInfo.processInfo.environment
        var cases = try Conformance.allCases()
        XCTAssertGreaterThanOrEqual(cases.count, 640, "conformance data missing from \(Conformance.root.path)")
        let filter = env["LOUPE_CONFORMANCE_FILTER"]?.split(separator: ",").map(String.init)
        if let filter { cases = cases.filter { c in filter.contains { c.contains($0) } } }

        var passed: [String] = [], failed: [(String, String)] = [], unsupported: [(String, String)] = []
        for c in cases {
            switch Conformance.run(c) {
            case .passed: passed.append(c)
            case .failed(let why): failed.append((c, why))
            case .unsupported(let why): unsupported.append((c, why))
            }
        }
        for (c, why) in failed { print("FAIL \(c): \(why)") }
        if filter != nil || env["LOUPE_CONFORMANCE_VERBOSE"] != nil {
            for (c, why) in unsupported { print("UNSUPPORTED \(c): \(why)") }
        }
        print("conformance summary — cases \(cases.count) · passed \(passed.count) · failed \(failed.count) · unsupported \(unsupported.count)")

        if env["LOUPE_CONFORMANCE_UPDATE"] == "1" && filter == nil {
            try (passed.joined(separator: "\n") + "\n").write(to: Self.expectedFile, atomically: true, encoding: .utf8)
            print("wrote \(passed.count) cases to \(Self.expectedFile.path)")
            return
        }
        let expected = (try? String(contentsOf: Self.expectedFile, encoding: .utf8))?
            .split(separator: "\n").map(String.init) ?? []
        XCTAssertFalse(expected.isEmpty, "missing \(Self.expectedFile.path)")
        let passedSet = Set(passed)
        for c in expected where cases.contains(c) && !passedSet.contains(c) {
            let why = failed.first { $0.0 == c }?.1 ?? unsupported.first { $0.0 == c }?.1 ?? "?"
            XCTFail("regression: \(c) is expected to pass: \(why)")
        }
    }
}
