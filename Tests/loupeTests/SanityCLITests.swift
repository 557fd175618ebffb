import Foundation
import LoupeExplain
import LoupeTestSupport
import XCTest

/// `loupe sanity` on the shapes GAP model, and its bad input.
final class SanityCLITests: XCTestCase {
    static let shapes = CLITests.root.appendingPathComponent("SampleModels/shapes")
    static let gap = shapes.appendingPathComponent("shapes-gap.onnx").path
    static let circle = shapes.appendingPathComponent("test/000-circle.png").path
    static let mlp = CLITests.root.appendingPathComponent("Tests/LoupeExplainTests/Fixtures/sanity/mlp.onnx").path

    func testTableJSONAndPlot() throws {
        let dir = try TemporaryFolder.make("sanity", for: self)
        let plot = dir.appendingPathComponent("s.png").path
        let r = try CLITests.run(["sanity", Self.gap, Self.circle, "--method", "saliency", "--preprocess", "none", "-o", plot])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[1].hasPrefix("step"), r.stdout)
        XCTAssertEqual(lines.filter { $0.contains("/Conv") || $0.contains("/Gemm") }.count, 5, r.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("verdict: ") }, r.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: plot))
        // The plot is not overwritten unasked.
        let again = try CLITests.run(["sanity", Self.gap, Self.circle, "--method", "saliency", "--preprocess", "none", "-o", plot])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("--force"), again.stderr)

        let j = try CLITests.run(["sanity", Self.gap, Self.circle, "--method", "grad-cam", "--preprocess", "none", "--json", "--seed", "2"])
        XCTAssertEqual(j.status, 0, j.stderr)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
        let steps = try XCTUnwrap(doc["steps"] as? [[String: Any]])
        XCTAssertEqual(steps.map { $0["layer"] as? String }, ["/15/Gemm", "/10/Conv", "/7/Conv", "/3/Conv", "/0/Conv"])
        XCTAssertEqual(doc["seed"] as? Int, 2)
        XCTAssertNotNil(doc["passes"] as? Bool)
        for s in steps { for k in ["spearman", "spearman_abs", "ssim", "hog"] { XCTAssertTrue(s[k] is Double || s[k] is NSNull, k) } }
        let j2 = try CLITests.run(["sanity", Self.gap, Self.circle, "--method", "grad-cam", "--preprocess", "none", "--json", "--seed", "2"])
        XCTAssertEqual(j.stdout, j2.stdout, "the same seed gives the same numbers")
    }

    func testBadInput() throws {
        let u = try CLITests.run(["sanity", Self.gap, Self.circle, "--method", "gradcam", "--preprocess", "none"])
        XCTAssertNotEqual(u.status, 0)
        XCTAssertTrue(u.stderr.contains("--method: unknown method 'gradcam'; valid: "), u.stderr)
        for m in Method.allCases { XCTAssertTrue(u.stderr.contains(m.rawValue), "\(m.rawValue) not listed: \(u.stderr)") }
        let l = try CLITests.run(["sanity", Self.mlp, Self.circle, "--method", "grad-cam", "--preprocess", "none"])
        XCTAssertEqual(l.status, 1)
        XCTAssertTrue(l.stderr.contains("needs a layer") && l.stderr.contains("no layer with a spatial"), l.stderr)
        XCTAssertFalse(l.stderr.contains("Fatal"), l.stderr)
        let sqrt = CLITests.root.appendingPathComponent("Tests/LoupeExplainTests/Fixtures/sanity/sqrt-head.onnx").path
        let n = try CLITests.run(["sanity", sqrt, Self.circle, "--method", "saliency", "--preprocess", "none"])
        XCTAssertEqual(n.status, 1)
        // Seed 0: the Gemm ('fc') is randomised first and its sums stay positive (PyTorch on the
        // same weights: 0.57, 0.35, 1.06, 1.28 for a random input); randomising 'conv' next
        // makes one negative (−0.09), so the Sqrt gives NaN at the second step.
        XCTAssertTrue(n.stderr.contains("sqrt-head.onnx: randomising layer 'conv' (Conv) made the class scores non-finite"), n.stderr)
        let missing = try CLITests.run(["sanity", Self.gap, "/nonexistent.png", "--method", "saliency", "--preprocess", "none"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("/nonexistent.png"), missing.stderr)
    }
}
