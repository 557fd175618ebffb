import Foundation
import LoupeTestSupport
import XCTest

/// `loupe surgery` as a user runs it: the built binary on the sample models.
final class SurgeryCLITests: XCTestCase {
    static let root = SurgeryPassTests.root
    static let vgg = root.appendingPathComponent("Tests/LoupeSurgeryTests/Fixtures/shapes-vgg-head.onnx").path
    static let gap = root.appendingPathComponent("SampleModels/shapes/shapes-gap.onnx").path
    static let test = root.appendingPathComponent("SampleModels/shapes/test").path

    func loupe(_ args: [String]) throws -> LoupeBinary.Result { try LoupeBinary.run(args) }

    func tempDir() throws -> URL { try TemporaryFolder.make("loupe-surgery-cli", for: self) }

    func testCamSurgeryThenExplainWithCAM() throws {
        let d = try tempDir()
        let out = d.appendingPathComponent("vgg-cam.onnx").path
        let args = ["surgery", "cam", Self.vgg, "--images", Self.test, "--preprocess", "none", "--holdout", "0.4", "--seed", "1", "-o", out]
        let r = try loupe(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("top-1 agreement with the original"), r.stdout)
        XCTAssertTrue(r.stdout.contains("fitted on 72 images"), r.stdout)
        let reportURL = d.appendingPathComponent("vgg-cam.cam.json")
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: reportURL)) as! [String: Any]
        XCTAssertEqual(report["heldOutImages"] as? Int, 48)
        XCTAssertGreaterThanOrEqual(report["agreementHeldOut"] as? Double ?? 0, 0.95)
        XCTAssertEqual(report["features"] as? String, "/12/Relu_output_0")

        // The original cannot be explained with CAM; the restructured model can.
        let image = (Self.test as NSString).appendingPathComponent("000-circle.png")
        let before = try loupe(["explain", Self.vgg, image, "--method", "cam", "--preprocess", "none", "-o", d.appendingPathComponent("no.png").path])
        XCTAssertEqual(before.status, 1)
        XCTAssertTrue(before.stderr.contains("loupe surgery cam"), before.stderr)
        let png = d.appendingPathComponent("cam.png").path
        let npy = d.appendingPathComponent("cam.npy").path
        let e = try loupe(["explain", out, image, "--method", "cam", "--preprocess", "none", "-o", png, "--save-npy", npy])
        XCTAssertEqual(e.status, 0, e.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: png))
        XCTAssertTrue(FileManager.default.fileExists(atPath: npy))

        // Same command again: the outputs exist.
        let again = try loupe(args)
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("exists; pass --force"), again.stderr)
    }

    func testCamReadyModelIsLeftAlone() throws {
        let d = try tempDir()
        let out = d.appendingPathComponent("gap-cam.onnx").path
        let r = try loupe(["surgery", "cam", Self.gap, "--images", Self.test, "--preprocess", "none", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("is CAM-ready"), r.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    /// Labels from class folders (named as in labels.txt), on the GAP model restructured anyway
    /// with --force: both accuracies are reported.
    func testLabelsFromFolders() throws {
        let d = try tempDir()
        let root = d.appendingPathComponent("classes")
        let labels = Self.root.appendingPathComponent("SampleModels/shapes/labels.txt").path
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.test).filter { $0.hasSuffix(".png") }.sorted().prefix(60)
        for f in files {
            // 000-circle.png → classes/circle/000-circle.png
            let cls = String(f.dropFirst(4).dropLast(4))
            let dir = root.appendingPathComponent(cls)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: (Self.test as NSString).appendingPathComponent(f), toPath: dir.appendingPathComponent(f).path)
        }
        let out = d.appendingPathComponent("gap-cam.onnx").path
        let r = try loupe(["surgery", "cam", Self.gap, "--images", root.path, "--labels-from-folders", "--labels", labels,
                           "--preprocess", "none", "--force", "--holdout", "0.5", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("labels from class folders"), r.stdout)
        XCTAssertTrue(r.stdout.contains("held-out accuracy: original"), r.stdout)
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: d.appendingPathComponent("gap-cam.cam.json"))) as! [String: Any]
        XCTAssertEqual(report["heldOutImages"] as? Int, 30)
        XCTAssertGreaterThanOrEqual(report["accuracyOriginalHeldOut"] as? Double ?? 0, 0.8)
        XCTAssertGreaterThanOrEqual(report["accuracyNewHeldOut"] as? Double ?? 0, 0.8)

        // A folder that is not a label is an error naming it.
        try FileManager.default.createDirectory(at: root.appendingPathComponent("hexagon"), withIntermediateDirectories: true)
        let bad = try loupe(["surgery", "cam", Self.gap, "--images", root.path, "--labels-from-folders", "--labels", labels,
                             "--preprocess", "none", "--force", "-o", out])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("folder 'hexagon' is not a label"), bad.stderr)
    }

    func testTooFewImagesSaysHowManyAreNeeded() throws {
        let d = try tempDir()
        let imgs = d.appendingPathComponent("two")
        try FileManager.default.createDirectory(at: imgs, withIntermediateDirectories: true)
        for f in ["000-circle.png", "001-square.png"] {
            try FileManager.default.copyItem(atPath: (Self.test as NSString).appendingPathComponent(f), toPath: imgs.appendingPathComponent(f).path)
        }
        let r = try loupe(["surgery", "cam", Self.vgg, "--images", imgs.path, "--preprocess", "none", "-o", d.appendingPathComponent("x.onnx").path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("has 2 images; a held-out split of 0.2 needs at least 3"), r.stderr)
    }

    func testStripHeadErrorsAndOutput() throws {
        let d = try tempDir()
        let out = d.appendingPathComponent("features.onnx").path
        let bad = try loupe(["surgery", "strip-head", Self.vgg, "--at", "/12/Relo", "-o", out])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("closest: '/12/Relu'"), bad.stderr)
        let pool = try loupe(["surgery", "strip-head", Self.vgg, "--pool", "avg", "-o", out])
        XCTAssertNotEqual(pool.status, 0)
        XCTAssertTrue(pool.stderr.contains("--pool applies to a cut with --at"), pool.stderr)
        let r = try loupe(["surgery", "strip-head", Self.vgg, "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("removed node '/head/fc2/Gemm' (Gemm)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("[batch, 64]"), r.stdout)
        let again = try loupe(["surgery", "strip-head", Self.vgg, "-o", out])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("pass --force"), again.stderr)
        XCTAssertEqual(try loupe(["surgery", "strip-head", Self.vgg, "-o", out, "--force"]).status, 0)
        let batch = try loupe(["surgery", "set-batch", Self.vgg, "zero", "-o", out, "--force"])
        XCTAssertNotEqual(batch.status, 0)
        XCTAssertTrue(batch.stderr.contains("positive number or dynamic"), batch.stderr)
    }
}
