import Foundation
import LoupeTestSupport
import XCTest

/// `loupe evaluate` on the shapes GAP model. The metrics' values are checked against Python
/// references in Tests/LoupeExplainTests/EvaluateReferenceTests.swift; here: the command's
/// output, its consistency (the curves start and end at the model's probability) and its
/// errors.
final class EvaluateCLITests: XCTestCase {
    static let shapes = CLITests.root.appendingPathComponent("SampleModels/shapes")
    static let model = shapes.appendingPathComponent("shapes-gap.onnx").path
    static let test = shapes.appendingPathComponent("test")
    static let boxes = test.appendingPathComponent("annotations.json").path
    static func image(_ name: String) -> String { test.appendingPathComponent(name).path }

    func testJSONCurvesAndAverages() throws {
        let dir = try TemporaryFolder.make("evaluate", for: self)
        let png = dir.appendingPathComponent("curves.png").path
        let r = try CLITests.run(["evaluate", Self.model, Self.image("000-circle.png"), Self.image("003-star.png"),
                                  "--preprocess", "none", "--methods", "grad-cam,random", "--boxes", Self.boxes,
                                  "--json", "-o", png])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: png))
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let results = try XCTUnwrap(doc["results"] as? [[String: Any]])
        XCTAssertEqual(results.map { $0["method"] as? String }, ["grad-cam", "random", "grad-cam", "random"])
        XCTAssertEqual(results.map { $0["target"] as? Int }, [0, 0, 3, 3])
        for rec in results {
            let m = try XCTUnwrap(rec["metrics"] as? [String: Any])
            let del = try XCTUnwrap(m["deletion"] as? [String: Any]), ins = try XCTUnwrap(m["insertion"] as? [String: Any])
            let ds = try XCTUnwrap(del["scores"] as? [Double]), ins_ = try XCTUnwrap(ins["scores"] as? [Double])
            // 64x64 pixels, 224 per step: 19 steps, 20 scores.
            XCTAssertEqual(ds.count, 20)
            XCTAssertEqual(ins_.count, 20)
            let conf = try XCTUnwrap(m["confidence"] as? [String: Any])
            let p = try XCTUnwrap(conf["original"] as? Double)
            // The curves' end points are the unchanged image, scored in a batch: batched
            // convolution kernels may sum in another order than the single forward pass.
            XCTAssertEqual(ds[0], p, accuracy: 1e-6)
            XCTAssertEqual(ins_[19], p, accuracy: 1e-6)
            for a in [del["auc"], ins["auc"]] { XCTAssertTrue((0...1).contains(try XCTUnwrap(a as? Double))) }
            let road = try XCTUnwrap(m["road"] as? [String: Any])
            XCTAssertEqual((road["morf_curve"] as? [Double])?.count, 9)
            let pointing = try XCTUnwrap(m["pointing"] as? [String: Any])
            XCTAssertNotNil(pointing["hit"] as? Bool)
        }
        let averages = try XCTUnwrap(doc["averages"] as? [[String: Any]])
        XCTAssertEqual(averages.map { $0["method"] as? String }, ["grad-cam", "random"])
        XCTAssertEqual(averages[0]["images"] as? Int, 2)
        // Grad-CAM points into both boxes.
        XCTAssertEqual(averages[0]["pointing_accuracy"] as? Double, 1)
    }

    func testTextOutputAndNoteOnUnusedBoxes() throws {
        let r = try CLITests.run(["evaluate", Self.model, Self.image("001-square.png"), "--preprocess", "none",
                                  "--methods", "saliency", "--metrics", "deletion,insertion,pointing", "--boxes", Self.boxes])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("001-square.png saliency (class 1): deletion 0."), r.stdout)
        XCTAssertTrue(r.stdout.contains("averages over 1 image:"), r.stdout)
        XCTAssertFalse(r.stdout.contains("ROAD"), r.stdout)
        XCTAssertTrue(r.stderr.contains("has boxes for 119 images not given"), r.stderr)
    }

    func testBadInput() throws {
        let base = ["evaluate", Self.model, Self.image("000-circle.png"), "--preprocess", "none"]
        var r = try CLITests.run(base + ["--methods", "grad-cam,lime"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("unknown method 'lime'") && r.stderr.contains("valid: saliency,") && r.stderr.contains("random"), r.stderr)
        r = try CLITests.run(base + ["--methods", "activations"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("not an attribution of a class"), r.stderr)
        r = try CLITests.run(base + ["--step", "0"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--step must be at least 1 pixel, got 0"), r.stderr)
        r = try CLITests.run(base + ["--metrics", "deletion,auc"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("unknown metric 'auc'"), r.stderr)

        let dir = try TemporaryFolder.make("evaluate-bad", for: self)
        let partial = dir.appendingPathComponent("boxes.json")
        try Data(#"{"images": [{"file": "003-star.png", "label": 3, "box": [1, 2, 30, 40]}]}"#.utf8).write(to: partial)
        r = try CLITests.run(base + ["--boxes", partial.path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("--boxes \(partial.path) has no box for image \(Self.image("000-circle.png"))"), r.stderr)
        let broken = dir.appendingPathComponent("broken.json")
        try Data(#"{"images": [{"file": "000-circle.png", "box": [30, 2, 10, 40]}]}"#.utf8).write(to: broken)
        r = try CLITests.run(base + ["--boxes", broken.path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("the box of '000-circle.png' is [30, 2, 10, 40]"), r.stderr)
        // An existing -o is kept.
        let png = dir.appendingPathComponent("curves.png")
        try Data("keep".utf8).write(to: png)
        r = try CLITests.run(base + ["--methods", "random", "-o", png.path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("exists; pass --force"), r.stderr)
        XCTAssertEqual(try String(contentsOf: png, encoding: .utf8), "keep")
    }

    /// `loupe report` prints the same deletion and insertion AUC beside each map as `evaluate`.
    func testReportShowsTheAUCsOfEvaluate() throws {
        let dir = try TemporaryFolder.make("evaluate-report", for: self)
        let html = dir.appendingPathComponent("r.html").path
        let img = Self.image("003-star.png")
        let r = try CLITests.run(["report", Self.model, img, "--preprocess", "none", "--methods", "grad-cam,saliency", "-o", html])
        XCTAssertEqual(r.status, 0, r.stderr)
        let page = try String(contentsOfFile: html, encoding: .utf8)
        XCTAssertTrue(page.contains("deletion / insertion AUC"), "settings row")
        let e = try CLITests.run(["evaluate", Self.model, img, "--preprocess", "none", "--methods", "grad-cam,saliency",
                                  "--metrics", "deletion,insertion", "--json"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as? [String: Any])
        for rec in try XCTUnwrap(doc["results"] as? [[String: Any]]) {
            let m = try XCTUnwrap(rec["metrics"] as? [String: Any])
            let d = try XCTUnwrap((m["deletion"] as? [String: Any])?["auc"] as? Double)
            let i = try XCTUnwrap((m["insertion"] as? [String: Any])?["auc"] as? Double)
            let text = String(format: "Deletion AUC %.3f, insertion AUC %.3f.", d, i)
            XCTAssertTrue(page.contains(text), "\(rec["method"] ?? ""): '\(text)' not in the report")
        }
        let off = try CLITests.run(["report", Self.model, img, "--preprocess", "none", "--methods", "saliency", "--no-auc", "-o", html, "--force"])
        XCTAssertEqual(off.status, 0, off.stderr)
        XCTAssertFalse(try String(contentsOfFile: html, encoding: .utf8).contains("Deletion AUC"))
    }
}
