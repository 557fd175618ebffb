import Foundation
import LoupeTestSupport
import XCTest

/// The CAM variants through `loupe explain`: each writes its picture and its raw map, and
/// Score-CAM's channel limit (`--max-channels`) is a clear error that says how long the
/// passes would take.
final class CAMVariantCLITests: XCTestCase {
    static let fixtures = CLITests.root.appendingPathComponent("Tests/LoupeExplainTests/Fixtures")
    static let model = fixtures.appendingPathComponent("tiny-resnet.onnx").path
    static let input = fixtures.appendingPathComponent("tiny-resnet-input.npy").path

    func testEachVariantWritesPictureAndRawMap() throws {
        let dir = try TemporaryFolder.make("loupe-cam-variants", for: self).path
        let methods = ["grad-cam++", "xgrad-cam", "hires-cam", "layer-cam", "score-cam", "ablation-cam", "eigen-cam"]
        for m in methods {
            let r = try CLITests.run(["explain", Self.model, "--input-npy", Self.input, "--method", m,
                                      "-o", dir + "/", "--save-npy", dir + "/", "--batch", "4"])
            XCTAssertEqual(r.status, 0, "\(m): \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("\(m) for class 0 at /layer2/relu2/Relu"), r.stdout)
            for ext in ["png", "npy"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/tiny-resnet-input-\(m).\(ext)"), "\(m) .\(ext)")
            }
        }
    }

    func testScoreCAMChannelLimit() throws {
        let r = try CLITests.run(["explain", Self.model, "--input-npy", Self.input, "--method", "score-cam",
                                  "--max-channels", "8", "-o", NSTemporaryDirectory() + "/never.png"])
        XCTAssertEqual(r.status, 1, r.stderr)
        for fragment in ["/layer2/relu2/Relu", "32 channels", "--max-channels (8)", "would take about", "--layer"] {
            XCTAssertTrue(r.stderr.contains(fragment), "\(fragment) in \(r.stderr)")
        }
        let zero = try CLITests.run(["explain", Self.model, "--input-npy", Self.input, "--method", "score-cam", "--max-channels", "0"])
        XCTAssertEqual(zero.status, 64, zero.stderr)
        XCTAssertTrue(zero.stderr.contains("--max-channels must be at least 1, got 0"), zero.stderr)
    }
}
