import Foundation
import LoupeTestSupport
import XCTest

@testable import LoupeFormats

/// `loupe features` on bad input (issue 15, point 9): a folder with unreadable images of
/// every kind (random bytes, a PNG signature followed by garbage, a truncated JPEG, a JPEG
/// with a header only) lists each by name and goes on, `--strict` stops at the first one
/// naming it, files that are not images are counted, and malformed `--shard` values are
/// refused before anything is written. (FeaturesCLITests covers a text file named .png.)
final class FeaturesBadInputTests: XCTestCase {
    static let gap = FeaturesCLITests.gap

    func testUnreadableImagesOfEveryKindAreListedAndSkipped() throws {
        let dir = try TemporaryFolder.make("loupe-features-bad", for: self).path
        let root = "\(dir)/images", fm = FileManager.default
        try fm.createDirectory(atPath: "\(root)/sub", withIntermediateDirectories: true)
        let test = FeaturesCLITests.test
        let good = try fm.contentsOfDirectory(atPath: test).filter { $0.hasSuffix(".png") }.sorted().prefix(2)
            .map { "\(test)/\($0)" }
        try fm.copyItem(atPath: good[0], toPath: "\(root)/a-good.png")
        try fm.copyItem(atPath: good[1], toPath: "\(root)/sub/z-good.png")
        var random = SeededRandom(seed: 15)
        let noise = Data((0..<600).map { _ in UInt8(truncatingIfNeeded: random.next()) })
        try noise.write(to: URL(fileURLWithPath: "\(root)/b-garbage.png"))
        try (Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) + noise).write(to: URL(fileURLWithPath: "\(root)/c-signature.png"))
        let jpeg = try Data(contentsOf: CLITests.root.appendingPathComponent("SampleModels/photos/coffee.jpg"))
        try jpeg.prefix(jpeg.count / 3).write(to: URL(fileURLWithPath: "\(root)/sub/d-truncated.jpg"))
        try jpeg.prefix(40).write(to: URL(fileURLWithPath: "\(root)/sub/e-header.jpeg"))
        try Data("notes".utf8).write(to: URL(fileURLWithPath: "\(root)/sub/notes.txt"))
        try Data("{}".utf8).write(to: URL(fileURLWithPath: "\(root)/meta.json"))

        let r = try CLITests.run(["features", Self.gap, root, "--preprocess", "none", "-o", "\(dir)/f.h5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for bad in ["b-garbage.png", "c-signature.png", "sub/d-truncated.jpg", "sub/e-header.jpeg"] {
            XCTAssertTrue(r.stderr.contains("skipped unreadable image '\(root)/\(bad)': "), "\(bad) not listed in: \(r.stderr)")
        }
        XCTAssertTrue(r.stderr.contains("JPEG data is truncated"), r.stderr)
        XCTAssertTrue(r.stderr.contains("skipped 4 unreadable images (listed above)"), r.stderr)
        XCTAssertTrue(r.stderr.contains("skipped 2 files under \(root) that are not PNG or JPEG"), r.stderr)
        XCTAssertTrue(r.stderr.contains("2 images in"), r.stderr)
        let f = try FeatureFile.read("\(dir)/f.h5")
        XCTAssertEqual(f.paths, ["\(root)/a-good.png", "\(root)/sub/z-good.png"])
        XCTAssertEqual(f.index, [0, 5])
        XCTAssertEqual(f.processed, 6)
        XCTAssertTrue(f.isComplete)

        // --strict stops at the first unreadable image in the sorted list, naming it, and
        // leaves no finished file behind.
        let s = try CLITests.run(["features", Self.gap, root, "--preprocess", "none", "-o", "\(dir)/g.h5", "--strict"])
        XCTAssertEqual(s.status, 1, s.stderr)
        XCTAssertTrue(s.stderr.contains("image '\(root)/b-garbage.png'"), s.stderr)
        XCTAssertTrue(s.stderr.contains("--strict stops here"), s.stderr)
        XCTAssertFalse(s.stderr.contains("c-signature.png"), s.stderr)
        if fm.fileExists(atPath: "\(dir)/g.h5") { XCTAssertFalse(try FeatureFile.read("\(dir)/g.h5").isComplete) }
    }

    func testMalformedShardsAreRefusedBeforeAnythingIsWritten() throws {
        let dir = try TemporaryFolder.make("loupe-features-shard", for: self).path
        let cases: [(String, String)] = [
            ("--shard=4/4", "shard 4/4: the index must be from 0 to 3 (0-based), got 4"),
            ("--shard=-1/4", "shard -1/4: the index must be from 0 to 3 (0-based), got -1"),
            ("--shard=1/0", "a shard is I/N with N at least 1 (e.g. 0/4), got '1/0'"),
            ("--shard=a/b", "a shard is I/N with N at least 1 (e.g. 0/4), got 'a/b'"),
            ("--shard=2", "a shard is I/N with N at least 1 (e.g. 0/4), got '2'"),
            ("--shard=1/2/3", "a shard is I/N with N at least 1 (e.g. 0/4), got '1/2/3'"),
        ]
        for (flag, message) in cases {
            let r = try CLITests.run(["features", Self.gap, FeaturesCLITests.test, "--preprocess", "none", "-o", "\(dir)/x.h5", flag])
            XCTAssertEqual(r.status, 64, "\(flag): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("--shard: \(message)"), "\(flag): expected '\(message)' in: \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir)/x.h5"), flag)
        }
    }
}
