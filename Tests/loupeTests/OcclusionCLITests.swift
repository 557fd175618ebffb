import Foundation
import LoupeFormats
import LoupeTensor
import LoupeTestSupport
import XCTest

/// `loupe explain --method occlusion`: the incremental inference (default), the plain method
/// (`--occlusion-plain`) and the approximation (`--approximate`), and the blurred baseline.
final class OcclusionCLITests: XCTestCase {
    static let model = CLITests.model
    static let image = CLITests.images.appendingPathComponent("disc.png").path  // 64x64 RGB
    var dir = ""

    override func setUpWithError() throws {
        dir = try TemporaryFolder.make("loupe-occlusion", for: self).path
    }

    private func path(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }

    func occlusion(_ name: String, _ extra: [String]) throws -> Tensor {
        let npy = path(name + ".npy")
        let r = try CLITests.run(["explain", Self.model, Self.image, "--method", "occlusion", "--window", "12x12", "--stride", "6x6",
                                  "-o", path(name + ".png"), "--save-npy", npy] + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
        return try NPY.read(path: npy)
    }

    func byRange(_ a: Tensor, _ b: Tensor) -> Double {
        let r = Double(b.floats.max()! - b.floats.min()!)
        return zip(a.floats, b.floats).map { abs(Double($0) - Double($1)) }.max()! / max(r, 1e-30)
    }

    func testIncrementalEqualsPlain() throws {
        for baseline in ["zero", "blur"] {
            let plain = try occlusion("plain-\(baseline)", ["--occlusion-plain", "--baseline", baseline])
            let fast = try occlusion("fast-\(baseline)", ["--baseline", baseline])
            XCTAssertLessThan(byRange(fast, plain), 1e-4, baseline)
        }
        // τ = 1 and no drill-down: the approximation is exact.
        let exact = try occlusion("exact", [])
        XCTAssertLessThan(byRange(try occlusion("approx", ["--approximate", "--field-threshold", "1", "--drill-down-stride", "1"]), exact), 1e-4)
        // A blurred baseline is not the zero one.
        XCTAssertNotEqual(try occlusion("blur", ["--baseline", "blur"]).floats, exact.floats)
    }

    /// `--method all --baseline blur` used to stop at occlusion, which took numbers only.
    func testAllMethodsWithBlurBaseline() throws {
        let r = try CLITests.run(["explain", Self.model, Self.image, "--method", "all", "--baseline", "blur", "-o", path("all.png")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("all.png")))
    }

    func testBadOptions() throws {
        let r = try CLITests.run(["explain", Self.model, Self.image, "--method", "occlusion", "--approximate", "--occlusion-plain", "-o", path("x.png")])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("--approximate and --occlusion-plain exclude each other"), r.stderr)
        let d = try CLITests.run(["explain", Self.model, Self.image, "--method", "occlusion", "--approximate", "--drill-down-fraction", "2", "-o", path("x.png")])
        XCTAssertEqual(d.status, 64)
        XCTAssertTrue(d.stderr.contains("--drill-down-fraction must be in [0, 1], got 2.0"), d.stderr)
    }
}
