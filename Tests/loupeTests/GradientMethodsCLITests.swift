import Foundation
import LoupeFormats
import LoupeTensor
import LoupeTestSupport
import XCTest

/// `explain` with integrated gradients, gradient × input and the noise tunnels through the
/// built binary: the completeness line and `--json`, the same map for the same noise seed,
/// and every bad setting of issue 19 refused with a message naming the flag and the value
/// (exit 64 for a flag the parser refuses, 1 for a `LoupeError`).
final class GradientMethodsCLITests: XCTestCase {
    static let model = CLITests.model
    static let image = CLITests.images.appendingPathComponent("disc.png").path  // 64x64 RGB

    private var dir = ""

    override func setUpWithError() throws {
        dir = try TemporaryFolder.make("loupe-gradient-methods", for: self).path
    }

    private func path(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }

    func testIntegratedGradientsPrintsCompletenessAndJSON() throws {
        let out = path("ig.png")
        let text = try CLITests.run(["explain", Self.model, Self.image, "--method", "integrated-gradients", "--steps", "16", "-o", out])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("completeness: sum of attributions"), text.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out))

        let npy = path("ig.npy")
        let r = try CLITests.run(["explain", Self.model, Self.image, "--method", "integrated-gradients", "--steps", "16",
                                  "--baseline", "blur", "-o", path("ig2.png"), "--save-npy", npy, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(doc.count, 1)
        let c = try XCTUnwrap(doc[0]["completeness"] as? [String: Double])
        let map = try NPY.read(path: npy)
        // The JSON's sum is the saved map's; error = sum − (score(input) − score(baseline)).
        XCTAssertEqual(c["attribution_sum"]!, map.floats.reduce(0.0) { $0 + Double($1) }, accuracy: 1e-6 * max(1, abs(c["attribution_sum"]!)))
        XCTAssertEqual(c["error"]!, c["attribution_sum"]! - (c["score_input"]! - c["score_baseline"]!), accuracy: 1e-9)
        XCTAssertEqual(doc[0]["npy"] as? String, npy)
    }

    func testNoiseTunnelIsSeeded() throws {
        func run(_ seed: String, _ name: String) throws -> Tensor {
            let npy = path(name)
            let r = try CLITests.run(["explain", Self.model, Self.image, "--method", "guided-backprop", "--noise-tunnel", "smoothgrad-sq",
                                      "--noise-samples", "4", "--noise-std", "0.2", "--noise-seed", seed,
                                      "-o", path(name + ".png"), "--save-npy", npy])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("with smoothgrad-sq (4 samples, std 0.2, seed \(seed))"), r.stdout)
            return try NPY.read(path: npy)
        }
        let a = try run("5", "a.npy"), b = try run("5", "b.npy"), c = try run("6", "c.npy")
        XCTAssertEqual(a.floats, b.floats)
        XCTAssertNotEqual(a.floats, c.floats)
        XCTAssertTrue(a.floats.allSatisfy { $0 >= 0 }, "SmoothGrad² is non-negative")
    }

    func testBadInput() throws {
        let (m, img) = (Self.model, Self.image)
        let out = path("x.png")
        let wrong = path("wrong.npy")
        try NPY.write(try Tensor(zeros: [1, 3, 32, 32]), path: wrong)
        func explain(_ extra: [String]) -> [String] { ["explain", m, img, "-o", out] + extra }
        let cases: [(String, [String], Int32, [String])] = [
            ("--steps 0", explain(["--method", "integrated-gradients", "--steps", "0"]), 64, ["--steps must be at least 1, got 0"]),
            ("--steps 1 trapezoid", explain(["--method", "integrated-gradients", "--steps", "1", "--integration", "trapezoid"]), 64,
             ["--steps must be at least 2 with --integration trapezoid"]),
            ("unknown rule", explain(["--method", "integrated-gradients", "--integration", "simpson"]), 64,
             ["--integration must be gauss-legendre or trapezoid, got 'simpson'"]),
            ("--steps-batch 0", explain(["--method", "integrated-gradients", "--steps-batch", "0"]), 64, ["--steps-batch must be at least 1, got 0"]),
            ("negative noise", explain(["--method", "saliency", "--noise-tunnel", "smoothgrad", "--noise-std=-0.1"]), 64,
             ["--noise-std must be a non-negative number, got -0.1"]),
            ("--noise-samples 0", explain(["--method", "saliency", "--noise-tunnel", "smoothgrad", "--noise-samples", "0"]), 64,
             ["--noise-samples must be at least 1, got 0"]),
            ("unknown tunnel", explain(["--method", "saliency", "--noise-tunnel", "smooth"]), 64,
             ["--noise-tunnel must be smoothgrad, smoothgrad-sq or vargrad, got 'smooth'"]),
            ("tunnel on grad-cam", explain(["--method", "grad-cam", "--noise-tunnel", "vargrad"]), 1,
             ["--noise-tunnel vargrad smooths", "not grad-cam"]),
            ("baseline of the wrong size", explain(["--method", "integrated-gradients", "--baseline", wrong]), 1,
             ["the baseline \(wrong) has shape [1, 3, 32, 32] but the input has [1, 3, 64, 64]"]),
            ("missing baseline", explain(["--method", "integrated-gradients", "--baseline", path("none.png")]), 64,
             ["--baseline: '\(path("none.png"))' is neither zero, a number, blur, blur:SIGMA nor an existing image or .npy file"]),
            ("blur:0", explain(["--method", "integrated-gradients", "--baseline", "blur:0"]), 64,
             ["--baseline blur:SIGMA needs a positive sigma in pixels, got 'blur:0'"]),
            ("blur too wide", explain(["--method", "integrated-gradients", "--baseline", "blur:40"]), 1,
             ["a blur of sigma 40.0 needs a kernel of 241 pixels"]),
            ("threshold without --approximate", explain(["--method", "occlusion", "--field-threshold", "0.5"]), 64,
             ["--field-threshold, --drill-down-stride and --drill-down-fraction need --approximate"]),
            ("threshold out of range", explain(["--method", "occlusion", "--approximate", "--field-threshold", "1.5"]), 64,
             ["--field-threshold must be in (0, 1], got 1.5"]),
        ]
        for (name, args, status, fragments) in cases {
            let r = try CLITests.run(args)
            XCTAssertEqual(r.status, status, "\(name): exit \(r.status)\n\(r.stderr)")
            for f in fragments { XCTAssertTrue(r.stderr.contains(f), "\(name): '\(f)' not in: \(r.stderr)") }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no case may write its output")
    }
}
