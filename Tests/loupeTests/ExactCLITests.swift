import Foundation
import LoupeFormats
import LoupeTestSupport
import XCTest

/// `--exact` (every convolution by the direct algorithm, no Winograd) on run, predict, bench
/// and explain: accepted, reported by `bench --json`, and the logits with and without it agree
/// with onnxruntime's within 1e-5 and with each other within 1e-4 relative.
final class ExactCLITests: XCTestCase {
    func testExactSwitchesWinogradOffAndKeepsTheLogits() throws {
        let dir = try TemporaryFolder.make("loupe-exact", for: self)
        let model = CLITests.model
        let input = CLITests.fixtures.appendingPathComponent("tiny-cnn-input.npy").path
        let want = try NPY.read(path: CLITests.fixtures.appendingPathComponent("tiny-cnn-logits-ort.npy").path)
        var logits: [[Float]] = []
        for exact in [false, true] {
            let out = dir.appendingPathComponent(exact ? "exact" : "default").path
            let r = try CLITests.run(["run", model, "--input", "input=\(input)", "--output-dir", out] + (exact ? ["--exact"] : []))
            XCTAssertEqual(r.status, 0, r.stderr)
            let got = try NPY.read(path: out + "/logits.npy")
            for i in 0..<want.count { XCTAssertEqual(got.floats[i], want.floats[i], accuracy: 1e-5) }
            logits.append(got.floats)

            let b = try CLITests.run(["bench", model, "--runs", "1", "--warmup", "0", "--json"] + (exact ? ["--exact"] : []))
            XCTAssertEqual(b.status, 0, b.stderr)
            let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(b.stdout.utf8)) as? [String: Any])
            XCTAssertEqual(doc["winograd"] as? Bool, !exact)
        }
        let scale = logits[1].map(abs).max() ?? 1
        for (a, e) in zip(logits[0], logits[1]) { XCTAssertLessThanOrEqual(abs(a - e), 1e-4 * scale) }
        for cmd in ["predict", "explain"] {
            let h = try CLITests.run([cmd, "--help"])
            XCTAssertTrue(h.stdout.contains("--exact"), "\(cmd) --help")
        }
    }
}
