import Foundation
import XCTest

/// A fresh folder under the system's temporary directory, removed when the test that made it
/// ends (pass or fail), so the suite leaves nothing behind in /tmp.
public enum TemporaryFolder {
    public static func make(_ prefix: String, for test: XCTestCase) throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: d) }
        return d
    }
}
