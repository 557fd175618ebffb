import Foundation
import XCTest

/// `loupe receptive-field` on the weight-free ResNet-18 structure (hand-computed values in
/// Tests/LoupeGraphTests/ReceptiveFieldTests.swift) and the bundled sample model.
final class ReceptiveFieldCLITests: XCTestCase {
    static let resnet = CLITests.root.appendingPathComponent("Tests/LoupeGraphTests/Fixtures/receptive-field/resnet18-structure.onnx").path

    func testLayerHumanAndJSON() throws {
        let r = try CLITests.run(["receptive-field", Self.resnet, "--layer", "/layer4/layer4.1/relu_1/Relu"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "layer /layer4/layer4.1/relu_1/Relu (Relu, [1, 512, 7, 7]): size 435x435, stride 32x32, offset (0, 0)\n")
        let j = try CLITests.run(["receptive-field", Self.resnet, "--layer", "/layer2/layer2.1/relu_1/Relu", "--json"])
        XCTAssertEqual(j.status, 0, j.stderr)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(doc["size"] as? [Int], [99, 99])
        XCTAssertEqual(doc["stride"] as? [Double], [8, 8])
        XCTAssertEqual(doc["offset"] as? [Double], [0, 0])
        XCTAssertEqual(doc["finite"] as? Bool, true)
    }

    func testNoFiniteFieldIsReportedNotAnError() throws {
        let r = try CLITests.run(["receptive-field", Self.resnet, "--layer", "/avgpool/GlobalAveragePool"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("no finite receptive field"), r.stdout)
        let j = try CLITests.run(["receptive-field", Self.resnet, "--layer", "/fc/Gemm", "--json"])
        XCTAssertEqual(j.status, 0, j.stderr)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(doc["finite"] as? Bool, false)
        XCTAssertEqual((doc["size"] as? [Any])?.count, 2)
        XCTAssertTrue((doc["size"] as? [Any])?.allSatisfy { $0 is NSNull } == true)
        XCTAssertNotNil(doc["reason"] as? String)
    }

    func testUnknownLayerListsClosestNames() throws {
        let r = try CLITests.run(["receptive-field", Self.resnet, "--layer", "/layer4/layer4.1/relu_2/Relu"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("--layer '/layer4/layer4.1/relu_2/Relu' names no layer"), r.stderr)
        XCTAssertTrue(r.stderr.contains("'/layer4/layer4.1/relu_1/Relu'"), r.stderr)
    }

    /// tiny-cnn: three 3×3 convs (pads 1), each followed by a 2×2 max pool.
    func testTableOfEveryLayer() throws {
        let r = try CLITests.run(["receptive-field", CLITests.model])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.first?.hasPrefix("layer") == true, r.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("/0/Conv ") && $0.contains("3x3") && $0.contains("(0, 0)") }, r.stdout)
        let j = try CLITests.run(["receptive-field", CLITests.model, "--json"])
        let rows = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(rows.first?["layer"] as? String, "/0/Conv")
        XCTAssertEqual(rows.first?["size"] as? [Int], [3, 3])
        XCTAssertEqual(rows.last?["finite"] as? Bool, false)
    }
}
