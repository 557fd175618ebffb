import Foundation
import LoupeTensor
import XCTest

@testable import LoupeFormats

/// `loupe features` and `loupe features merge` on the shapes sample model and its 120 test
/// images: the file read back through Loupe's HDF5 reader, the features against `loupe run`
/// on the `strip-head` model, resuming, sharding and merging, and the refusals.
final class FeaturesCLITests: XCTestCase {
    static let shapes = CLITests.root.appendingPathComponent("SampleModels/shapes")
    static let gap = shapes.appendingPathComponent("shapes-gap.onnx").path
    static let vgg = shapes.appendingPathComponent("shapes-vgg.onnx").path
    static let test = shapes.appendingPathComponent("test").path

    func loupe(_ args: [String]) throws -> CLITests.Result { try CLITests.run(args) }

    func tempDir() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-features-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: d) }
        return d.path
    }

    /// `loupe features MODEL IMAGES --preprocess none -o out` plus `extra`; asserts success.
    @discardableResult
    func features(_ model: String, _ images: [String], _ out: String, _ extra: [String] = []) throws -> CLITests.Result {
        let r = try loupe(["features", model] + images + ["--preprocess", "none", "-o", out] + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
        return r
    }

    /// The sorted PNG files of the test set (what a folder argument gives).
    var testImages: [String] {
        get throws {
            try FileManager.default.contentsOfDirectory(atPath: Self.test).filter { $0.hasSuffix(".png") }.sorted()
                .map { (Self.test as NSString).appendingPathComponent($0) }
        }
    }

    /// The largest difference in a row, relative to the row's largest magnitude, over all rows.
    func maxRowRelative(_ a: [Float], _ b: [Float], columns: Int) -> Float {
        precondition(a.count == b.count)
        var worst: Float = 0
        for r in 0..<(a.count / columns) {
            let span = (r * columns)..<((r + 1) * columns)
            let scale = max(b[span].map(abs).max()!, 1e-12)
            worst = max(worst, zip(a[span], b[span]).map { abs($0 - $1) }.max()! / scale)
        }
        return worst
    }

    func testFileReadsBackAndEqualsRunOnTheStripHeadModel() throws {
        let dir = try tempDir(), out = "\(dir)/f.h5", stripped = "\(dir)/stripped.onnx"
        let r = try features(Self.gap, [Self.test], out)
        XCTAssertTrue(r.stderr.contains("skipped 1 file under \(Self.test) that is not PNG or JPEG"), r.stderr)
        XCTAssertTrue(r.stderr.contains("images/s"), r.stderr)

        // Through the Keras weights reader, independent of the writer's own reading code.
        let h5 = try HDF5File(path: out)
        let feats = try h5.tensor("features")
        XCTAssertEqual(feats.shape, [120, 64])
        XCTAssertEqual(try h5.tensor("labels").floats, [Float](repeating: -1, count: 120))
        XCTAssertEqual(try h5.tensor("index").floats, (0..<120).map(Float.init))
        XCTAssertFalse(h5.exists("label_names"))
        XCTAssertEqual(try h5.strings("/", "model_sha256"), [try SHA256.hex(ofFile: Self.gap)])
        XCTAssertEqual(try h5.strings("/", "model_path"), [Self.gap])
        XCTAssertEqual(try h5.strings("/", "layer"), ["/14/Flatten_output_0"])
        let prep = try XCTUnwrap(try h5.strings("/", "preprocess")?.first)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(prep.utf8)) as? [String: Any])
        XCTAssertEqual(json["height"] as? Int, 64)
        XCTAssertEqual(json["scale"] as? String, "unit")
        let contents = try FeatureFile.read(out)
        XCTAssertEqual(contents.paths, try testImages)
        XCTAssertEqual(contents.features, feats.floats)

        // The same images, preprocessed the same way, through `loupe run` on the strip-head model.
        let s = try loupe(["surgery", "strip-head", Self.gap, "-o", stripped])
        XCTAssertEqual(s.status, 0, s.stderr)
        var pixels: [Float] = []
        for p in contents.paths { pixels += try Preprocessing.none.tensor(from: try ImageIO.read(path: p), height: 64, width: 64).floats }
        try NPY.write(Tensor(shape: [120, 3, 64, 64], floats: pixels), path: "\(dir)/x.npy")
        let run = try loupe(["run", stripped, "--input", "input=\(dir)/x.npy", "--output-dir", "\(dir)/out"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let want = try NPY.read(path: "\(dir)/out/\(safe("/14/Flatten_output_0")).npy")
        XCTAssertEqual(want.shape, [120, 64])
        let rel = maxRowRelative(contents.features, want.floats, columns: 64)
        print("features vs loupe run on the strip-head model: largest row-relative difference \(rel)")
        XCTAssertLessThanOrEqual(rel, 1e-5)
    }

    private func safe(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || "._-".contains($0) ? $0 : "_" })
    }

    func testInterruptedRunContinuesToTheUninterruptedResult() throws {
        let dir = try tempDir(), whole = "\(dir)/whole.h5", part = "\(dir)/part.h5"
        try features(Self.gap, [Self.test], whole)
        let stopped = try features(Self.gap, [Self.test], part, ["--batch", "16", "--stop-after", "40"])
        XCTAssertTrue(stopped.stderr.contains("stopped after 48 of 120"), stopped.stderr)
        let partial = try FeatureFile.read(part)
        XCTAssertEqual(partial.rows, 48)
        XCTAssertEqual(partial.processed, 48)
        XCTAssertFalse(partial.isComplete)

        // Another preprocessing is another run: refused, naming it, until --force.
        let other = try loupe(["features", Self.gap, Self.test, "--preprocess", "imagenet", "-o", part])
        XCTAssertEqual(other.status, 1)
        XCTAssertTrue(other.stderr.contains("differs in preprocess"), other.stderr)
        XCTAssertTrue(other.stderr.contains("pass --force to start over"), other.stderr)
        XCTAssertEqual(try FeatureFile.read(part).rows, 48)

        let resumed = try features(Self.gap, [Self.test], part, ["--batch", "16"])
        XCTAssertTrue(resumed.stderr.contains("continuing \(part) after 48 of 120 images"), resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("72 images in"), resumed.stderr)
        let a = try FeatureFile.read(part), b = try FeatureFile.read(whole)
        XCTAssertEqual(a.paths, b.paths)
        XCTAssertEqual(a.index, b.index)
        XCTAssertEqual(a.labels, b.labels)
        XCTAssertEqual(a.features, b.features)
        XCTAssertTrue(a.isComplete)

        let again = try features(Self.gap, [Self.test], part)
        XCTAssertTrue(again.stdout.contains("nothing to do"), again.stdout)

        // A file that is not a features file is not overwritten without --force.
        try "notes".write(toFile: "\(dir)/notes.txt", atomically: true, encoding: .utf8)
        let notOurs = try loupe(["features", Self.gap, Self.test, "--preprocess", "none", "-o", "\(dir)/notes.txt"])
        XCTAssertEqual(notOurs.status, 1)
        XCTAssertTrue(notOurs.stderr.contains("is not a Loupe features file; pass --force"), notOurs.stderr)
        XCTAssertEqual(try String(contentsOfFile: "\(dir)/notes.txt", encoding: .utf8), "notes")
        try features(Self.gap, [Self.test], "\(dir)/notes.txt", ["--force"])
        XCTAssertEqual(try FeatureFile.read("\(dir)/notes.txt").rows, 120)
    }

    func testShardsMergedInAnyOrderEqualTheUnshardedFile() throws {
        let dir = try tempDir(), whole = "\(dir)/whole.h5"
        try features(Self.gap, [Self.test], whole, ["--batch", "7"])
        for i in 0..<3 { try features(Self.gap, [Self.test], "\(dir)/s\(i).h5", ["--batch", "7", "--shard", "\(i)/3"]) }
        let s1 = try FeatureFile.read("\(dir)/s1.h5")
        XCTAssertEqual(s1.index, Array(stride(from: Int64(1), to: 120, by: 3)))
        XCTAssertEqual(s1.header.shard, "1/3")

        let m = try loupe(["features", "merge", "\(dir)/s2.h5", "\(dir)/s0.h5", "\(dir)/s1.h5", "-o", "\(dir)/all.h5"])
        XCTAssertEqual(m.status, 0, m.stderr)
        let a = try FeatureFile.read("\(dir)/all.h5"), b = try FeatureFile.read(whole)
        XCTAssertEqual(a.header, b.header)
        XCTAssertEqual(a.paths, b.paths)
        XCTAssertEqual(a.index, (0..<120).map(Int64.init))
        XCTAssertEqual(a.labels, b.labels)
        // Shards run other batch compositions; with Winograd (AVX-512) a convolution's rounding
        // depends on the batch (1.1e-6 seen), within the 1e-5 that features promise.
        XCTAssertLessThanOrEqual(maxRowRelative(a.features, b.features, columns: 64), 1e-5)

        func refused(_ args: [String], _ expected: String) throws {
            let r = try loupe(args)
            XCTAssertNotEqual(r.status, 0, args.joined(separator: " "))
            XCTAssertTrue(r.stderr.contains(expected), "expected '\(expected)' in: \(r.stderr)")
        }
        try refused(["features", "merge", "\(dir)/s2.h5", "\(dir)/s0.h5", "-o", "\(dir)/x.h5"], "shard 1/3 is missing")
        try refused(["features", "merge", "\(dir)/s0.h5", "\(dir)/s1.h5", "\(dir)/s1.h5", "\(dir)/s2.h5", "-o", "\(dir)/x.h5"],
                    "shard 1/3 is given twice")
        try features(Self.vgg, [Self.test], "\(dir)/v1.h5", ["--shard", "1/3"])
        try refused(["features", "merge", "\(dir)/s0.h5", "\(dir)/v1.h5", "\(dir)/s2.h5", "-o", "\(dir)/x.h5"], "differ in model_sha256")
        try features(Self.gap, [Self.test], "\(dir)/p1.h5", ["--shard", "1/3", "--stop-after", "5"])
        try refused(["features", "merge", "\(dir)/s0.h5", "\(dir)/p1.h5", "\(dir)/s2.h5", "-o", "\(dir)/x.h5"], "is unfinished")
        try refused(["features", "merge", "\(dir)/s0.h5", "\(dir)/s1.h5", "\(dir)/s2.h5", "-o", "\(dir)/all.h5"], "exists; pass --force")
        try refused(["features", "merge", "\(dir)/s0.h5", "\(dir)/s1.h5", "\(dir)/s2.h5", "-o", "\(dir)/./s1.h5", "--force"],
                    "is the shard \(dir)/s1.h5 itself")
        try refused(["features", Self.gap, Self.test, "-o", "\(dir)/x.h5", "--shard", "4/4"], "the index must be from 0 to 3")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir)/x.h5"))
    }

    func testUnreadableImagesAreListedAndSkippedAndLabelsComeFromFolders() throws {
        let dir = try tempDir(), root = "\(dir)/data"
        let fm = FileManager.default
        for sub in ["a", "b"] { try fm.createDirectory(atPath: "\(root)/\(sub)", withIntermediateDirectories: true) }
        let images = try testImages
        try fm.copyItem(atPath: images[0], toPath: "\(root)/3.png")
        try fm.copyItem(atPath: images[1], toPath: "\(root)/a/1.png")
        try fm.copyItem(atPath: images[2], toPath: "\(root)/b/2.PNG")
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: "\(root)/a/bad.png"))
        try Data("text".utf8).write(to: URL(fileURLWithPath: "\(root)/b/notes.txt"))

        let r = try features(Self.gap, [root, images[3]], "\(dir)/f.h5", ["--labels-from-folders"])
        XCTAssertTrue(r.stderr.contains("skipped unreadable image '\(root)/a/bad.png': not a PNG or JPEG file"), r.stderr)
        XCTAssertTrue(r.stderr.contains("skipped 1 file under \(root) that is not PNG or JPEG"), r.stderr)
        let f = try FeatureFile.read("\(dir)/f.h5")
        XCTAssertEqual(f.paths, ["\(root)/3.png", "\(root)/a/1.png", "\(root)/b/2.PNG", images[3]])
        XCTAssertEqual(f.labels, [-1, 0, 1, -1])
        XCTAssertEqual(f.index, [0, 1, 3, 4])
        XCTAssertEqual(f.header.labelNames, ["a", "b"])
        XCTAssertEqual(f.processed, 5)
        XCTAssertEqual(try HDF5File(path: "\(dir)/f.h5").tensor("features").shape, [4, 64])

        let strict = try loupe(["features", Self.gap, root, "--preprocess", "none", "-o", "\(dir)/g.h5", "--strict"])
        XCTAssertEqual(strict.status, 1)
        XCTAssertTrue(strict.stderr.contains("image '\(root)/a/bad.png'"), strict.stderr)
        XCTAssertTrue(strict.stderr.contains("--strict"), strict.stderr)
    }
}
