import Foundation
import XCTest

/// The main job (Scripts/demo.sh) opens with the trained shapes model on held-out test
/// images: its first `loupe` command names that model, and `predict` with the job's own
/// arguments labels every one of those images correctly and with confidence.
final class MainJobTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testMainJobStartsWithTheTrainedModelOnHeldOutImages() throws {
        let script = try String(contentsOf: Self.root.appendingPathComponent("Scripts/demo.sh"), encoding: .utf8)
        let commands = script.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.hasPrefix("$loupe ") }
        let first = try XCTUnwrap(commands.first, "demo.sh runs no loupe command")
        XCTAssertTrue(first.contains("\"$model\""), "the first command should show the trained model: \(first)")
        XCTAssertTrue(script.contains("model=$shapes/shapes-gap.onnx"), "the main job's model should be the trained shapes model")
        XCTAssertFalse(script.contains("tiny-cnn.onnx"), "the untrained tiny-cnn is for tests, not the main job")

        let shapes = Self.root.appendingPathComponent("SampleModels/shapes")
        let test = shapes.appendingPathComponent("test")
        // The job's images: 000 to 011, two per class; the file name carries the class.
        let images = try FileManager.default.contentsOfDirectory(atPath: test.path).filter {
            $0.hasSuffix(".png") && (Int($0.prefix(3)) ?? 99) <= 11
        }.sorted()
        XCTAssertEqual(images.count, 12)
        let r = try CLITests.run(["predict", shapes.appendingPathComponent("shapes-gap.onnx").path]
            + images.map { test.appendingPathComponent($0).path }
            + ["--labels", shapes.appendingPathComponent("labels.txt").path, "--preprocess", "none", "--top", "1", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(rows.count, 12)
        for row in rows {
            let name = ((row["image"] as? String ?? "") as NSString).lastPathComponent
            let want = String(name.dropFirst(4).prefix { $0 != "." })
            let top = try XCTUnwrap((row["predictions"] as? [[String: Any]])?.first)
            XCTAssertEqual(top["label"] as? String, want, name)
            XCTAssertGreaterThan(top["probability"] as? Double ?? 0, 0.6, "\(name): not confident")
        }
    }
}
