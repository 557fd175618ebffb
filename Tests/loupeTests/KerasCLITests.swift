import Foundation
import LoupeTestSupport
import XCTest

/// The built `loupe` binary on the Keras fixtures of Tests/LoupeFormatsTests/Fixtures/keras
/// (Scripts/fixtures/make-keras-fixtures.py): inspect, predict and explain on `.h5` and `.keras` files.
final class KerasCLITests: XCTestCase {
    static let keras = CLITests.root.appendingPathComponent("Tests/LoupeFormatsTests/Fixtures/keras")
    static let image = CLITests.images.appendingPathComponent("disc.png").path

    private func model(_ name: String) -> String { Self.keras.appendingPathComponent(name).path }

    private func loupe(_ args: [String]) throws -> CLITests.Result { try CLITests.run(args) }

    /// A fuzzed Keras 2 file (one found by corrupting k2_functional.h5 at random) on which
    /// libhdf5 itself never finishes reading: refused as a damaged global heap before libhdf5
    /// reads it (the guard's own timeout is tested in KerasErrorTests).
    func testAFileThatHangsLibHDF5IsReportedNotHung() throws {
        // A generous limit on the whole run: past it the run is killed and the test fails
        // saying so, instead of hanging the suite.
        let r = try CLITests.run(["inspect", model("corrupt-hangs-libhdf5.h5")], environment: ["LOUPE_HDF5_TIMEOUT": "5"], timeout: 300)
        XCTAssertFalse(r.timedOut, "still running after 300 s")
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("corrupt-hangs-libhdf5.h5") && r.stderr.contains("damaged HDF5 global heap"), r.stderr)
    }

    func testInspectShowsKerasLayersAndClasses() throws {
        let r = try loupe(["inspect", model("k3_functional.h5")])
        XCTAssertEqual(r.status, 0, r.stderr)
        for part in ["keras class", "conv_a/conv", "DepthwiseConv2D", "SeparableConv2D", "shared_conv/1", "input:  image float32[1, 16, 16, 3]"] {
            XCTAssertTrue(r.stdout.contains(part), "missing '\(part)' in:\n\(r.stdout)")
        }
    }

    func testPredictOnKerasArchive() throws {
        let r = try loupe(["predict", model("k3_sequential.keras"), Self.image])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.split(separator: "\n").filter { $0.contains("%") }.count, 5, r.stdout)
    }

    func testExplainAtANamedKerasLayer() throws {
        let dir = try TemporaryFolder.make("loupe-keras-cli", for: self)
        let out = dir.appendingPathComponent("gc.png").path
        let r = try loupe(["explain", model("k3_functional.h5"), Self.image, "--method", "grad-cam", "--layer", "conv_a", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("at conv_a"), r.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out))
    }

    func testFiltersByKerasLayerName() throws {
        let dir = try TemporaryFolder.make("loupe-keras-cli", for: self)
        let out = dir.appendingPathComponent("f.png").path
        // conv_a has a ReLU: the Conv node is conv_a/conv, the layer name still finds it.
        let r = try loupe(["filters", model("k3_functional.keras"), "--layer", "conv_a", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("conv_a/conv (Conv) weights [6, 3, 3, 3]"), r.stdout)
    }

    func testInspectJSONCarriesKerasClass() throws {
        let r = try loupe(["inspect", model("k3_sequential.keras"), "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let nodes = try XCTUnwrap(doc?["nodes"] as? [[String: Any]])
        let c1 = try XCTUnwrap(nodes.first { $0["name"] as? String == "c1" })
        XCTAssertEqual(c1["keras_class"] as? String, "Conv2D")
    }

    func testWeightsOnlyFileNeedsConfig() throws {
        let bad = try loupe(["inspect", model("k2_weights_only.h5")])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("loupe: error:") && bad.stderr.contains("--config"), bad.stderr)
        let good = try loupe(["inspect", model("k2_weights_only.h5"), "--config", model("k2_config.json")])
        XCTAssertEqual(good.status, 0, good.stderr)
        XCTAssertTrue(good.stdout.contains("conv2d_1"), good.stdout)
    }
}
