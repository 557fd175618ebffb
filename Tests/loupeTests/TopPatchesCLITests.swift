import Foundation
import LoupeRender
import LoupeTensor
import LoupeTestSupport
import XCTest

@testable import LoupeFormats

/// `loupe top-patches` on SampleModels/shapes (shapes-gap.onnx, the 120 test images) against
/// onnxruntime's activations of the last convolution block (Tests/loupeTests/Fixtures/top-patches,
/// written by Scripts/fixtures/make-top-patches-fixture.py), the boxes against the hand-computed
/// field (size 25, stride 4, offset 1), the known answer of issue #15 point 8 (the patches' centres
/// lie in the annotated object boxes far more often than chance), and bad input.
final class TopPatchesCLITests: XCTestCase {
    static let gap = FeaturesCLITests.gap
    static let test = FeaturesCLITests.test
    static let fixtures = CLITests.fixtures.appendingPathComponent("top-patches")

    struct Entry: Decodable, Equatable {
        var item: Int
        var path: String
        var value: Float
        var y: Int
        var x: Int
        var box: [Int]
        var image_box: [Int]
    }
    struct Channel: Decodable, Equatable {
        var channel: Int
        var entries: [Entry]
    }
    struct Field: Decodable, Equatable {
        var size: [Int]
        var stride: [Double]
        var offset: [Double]
    }
    struct Report: Decodable {
        var layer: String
        var channel_count: Int
        var map_size: [Int]
        var input_size: [Int]
        var images: Int
        var receptive_field: Field
        var channels: [Channel]
    }

    func loupe(_ args: [String]) throws -> CLITests.Result { try CLITests.run(args) }

    func report(_ args: [String]) throws -> Report {
        let r = try loupe(["top-patches", Self.gap] + args + ["--preprocess", "none", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try JSONDecoder().decode(Report.self, from: Data(r.stdout.utf8))
    }

    func fixture(_ name: String) throws -> [Float] {
        try NPY.read(path: Self.fixtures.appendingPathComponent(name).path).floats
    }

    var testFiles: [String] {
        get throws { try FileManager.default.contentsOfDirectory(atPath: Self.test).filter { $0.hasSuffix(".png") }.sorted() }
    }

    /// The field of unit u of '/12/Relu' along an axis, end-exclusive, clipped to 64.
    func handBox(_ y: Int, _ x: Int) -> [Int] {
        [max(4 * y - 11, 0), max(4 * x - 11, 0), min(4 * y + 14, 64), min(4 * x + 14, 64)]
    }

    func testEqualsOnnxRuntimeWithHandComputedBoxesAndBeatsChance() throws {
        let dir = try TemporaryFolder.make("loupe-top-patches", for: self)
        let grid = dir.appendingPathComponent("grid.png").path
        let rep = try report([Self.test, "--layer", "/12/Relu", "-o", grid])
        let files = try testFiles
        let (n, c) = (120, 64)
        let maxima = try fixture("relu12-max.npy"), argmax = try fixture("relu12-argmax.npy")
        let runnerUp = try fixture("relu12-runner-up.npy")
        func m(_ i: Int, _ ch: Int) -> Float { maxima[i * c + ch] }
        func close(_ a: Float, _ b: Float) -> Bool { abs(a - b) <= 1e-4 * max(abs(b), 1e-6) }

        XCTAssertEqual(rep.layer, "/12/Relu_output_0")
        XCTAssertEqual(rep.channel_count, 64)
        XCTAssertEqual(rep.map_size, [16, 16])
        XCTAssertEqual(rep.input_size, [64, 64])
        XCTAssertEqual(rep.images, 120)
        XCTAssertEqual(rep.receptive_field, Field(size: [25, 25], stride: [4, 4], offset: [1, 1]))

        // The 16 channels with the largest maximum over the set, strongest first.
        let best = (0..<c).map { ch in (0..<n).map { m($0, ch) }.max()! }
        let want = (0..<c).sorted { best[$0] != best[$1] ? best[$0] > best[$1] : $0 < $1 }
        XCTAssertEqual(rep.channels.map(\.channel), Array(want.prefix(16)))

        var checked = 0
        for ch in rep.channels {
            // The reference top 9: each image's maximum (onnxruntime), larger value then earlier image.
            let ref = (0..<n).sorted { m($0, ch.channel) != m($1, ch.channel) ? m($0, ch.channel) > m($1, ch.channel) : $0 < $1 }.prefix(9)
            XCTAssertEqual(ch.entries.count, 9)
            XCTAssertEqual(Set(ch.entries.map(\.item)).count, ch.entries.count, "one entry per image, channel \(ch.channel)")
            for (e, r) in zip(ch.entries, ref) {
                XCTAssertTrue(close(e.value, m(r, ch.channel)), "channel \(ch.channel): \(e.value) vs \(m(r, ch.channel))")
                if e.item != r {
                    // Only a near-tie may swap two images.
                    XCTAssertTrue(close(m(e.item, ch.channel), m(r, ch.channel)), "channel \(ch.channel): image \(e.item) instead of \(r)")
                }
                // The entry is that image's maximum, at its position unless the runner-up is as large.
                XCTAssertTrue(close(e.value, m(e.item, ch.channel)), "channel \(ch.channel) image \(e.item)")
                let (ry, rx) = (Int(argmax[(e.item * c + ch.channel) * 2]), Int(argmax[(e.item * c + ch.channel) * 2 + 1]))
                if (e.y, e.x) != (ry, rx) {
                    XCTAssertTrue(close(runnerUp[e.item * c + ch.channel], m(e.item, ch.channel)),
                                  "channel \(ch.channel) image \(e.item): (\(e.y), \(e.x)) instead of (\(ry), \(rx))")
                }
                XCTAssertEqual(e.path, (Self.test as NSString).appendingPathComponent(files[e.item]))
                XCTAssertEqual(e.box, handBox(e.y, e.x))
                XCTAssertEqual(e.image_box, e.box, "no resize: the image's pixels are the input's")
                checked += 1
            }
            // Strongest first.
            XCTAssertEqual(ch.entries.map(\.value), ch.entries.map(\.value).sorted(by: >))
        }
        XCTAssertEqual(checked, 16 * 9)

        // Point 8: the unit's position (the field's centre, 1 + 4·unit) inside the object's box.
        struct Annotations: Decodable {
            struct Image: Decodable { var file: String; var box: [Int] }  // [x0, y0, x1, y1], end-exclusive
            var images: [Image]
        }
        let ann = try JSONDecoder().decode(Annotations.self, from: Data(contentsOf: URL(fileURLWithPath: Self.test).appendingPathComponent("annotations.json")))
        let boxes = Dictionary(uniqueKeysWithValues: ann.images.map { ($0.file, $0.box) })
        var inside = 0, total = 0
        for ch in rep.channels {
            for e in ch.entries {
                let b = try XCTUnwrap(boxes[files[e.item]])
                let (cy, cx) = (1 + 4 * e.y, 1 + 4 * e.x)
                if b[0] <= cx && cx < b[2] && b[1] <= cy && cy < b[3] { inside += 1 }
                total += 1
            }
        }
        let chance = ann.images.map { Double(($0.box[2] - $0.box[0]) * ($0.box[3] - $0.box[1])) / 4096 }.reduce(0, +) / Double(ann.images.count)
        let rate = Double(inside) / Double(total)
        print("top-patches known answer, /12/Relu of shapes-gap: \(inside)/\(total) = \(rate) of the patch centres inside the object box; chance \(chance)")
        let known = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent("known-answer.json"))) as? [String: Any])
        XCTAssertEqual(known["inside"] as? Int, inside, "the same count as the onnxruntime computation")
        XCTAssertEqual(try XCTUnwrap(known["chance"] as? Double), chance, accuracy: 1e-12)
        XCTAssertGreaterThan(rate, chance + 0.5, "more often than chance, by a margin")

        // The grid: 16 rows of 9 cells of 96 pixels (docs: PatchGrid's layout).
        let picture = try ImageIO.read(path: grid)
        XCTAssertEqual(picture.width, 12 + BitmapFont.textWidth("ch 48", scale: 2) + 12 + 9 * 96 + 8 * 6 + 12)
        XCTAssertEqual(picture.height, 12 + 18 + 10 + 16 * (11 + 96) + 15 * 10 + 12)
    }

    func testExplicitChannelsBatchingAndResizedImageBoxes() throws {
        let a = try report([Self.test, "--layer", "/12/Relu_output_0", "--channels", "7,3,60", "-k", "4", "--exact"])
        XCTAssertEqual(a.channels.map(\.channel), [7, 3, 60])
        XCTAssertTrue(a.channels.allSatisfy { $0.entries.count == 4 })
        // Batching changes nothing with the direct kernels (--exact; Winograd's rounding depends
        // on the batch, docs/engine.md).
        let b = try report([Self.test, "--layer", "/12/Relu_output_0", "--channels", "7,3,60", "-k", "4", "--batch", "7", "--exact"])
        XCTAssertEqual(a.channels, b.channels)

        // Resized to 80 and cropped to 64 at (8, 8): input edge e is image edge (e + 8) · 64/80.
        let r = try report([Self.test, "--layer", "/12/Relu", "--channels", "3", "-k", "3", "--resize", "80", "--crop", "64x64"])
        for e in r.channels[0].entries {
            XCTAssertEqual(e.box, handBox(e.y, e.x))
            let want = [Int((Double(e.box[0] + 8) * 0.8).rounded(.down)), Int((Double(e.box[1] + 8) * 0.8).rounded(.down)),
                        min(Int((Double(e.box[2] + 8) * 0.8).rounded(.up)), 64), min(Int((Double(e.box[3] + 8) * 0.8).rounded(.up)), 64)]
            XCTAssertEqual(e.image_box, want)
        }
    }

    func testUnreadableImagesAreListedAndSkippedAndStrictStops() throws {
        let dir = try TemporaryFolder.make("loupe-top-patches-bad", for: self)
        let files = try testFiles
        for f in files.prefix(3) {
            try FileManager.default.copyItem(atPath: (Self.test as NSString).appendingPathComponent(f), toPath: dir.appendingPathComponent(f).path)
        }
        try Data("not a png".utf8).write(to: dir.appendingPathComponent("001-broken.png"))
        try Data("notes".utf8).write(to: dir.appendingPathComponent("notes.txt"))
        let r = try loupe(["top-patches", Self.gap, dir.path, "--layer", "/12/Relu", "--preprocess", "none", "-k", "3", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("skipped unreadable image '\(dir.path)/001-broken.png'"), r.stderr)
        XCTAssertTrue(r.stderr.contains("skipped 1 file under \(dir.path) that is not PNG or JPEG"), r.stderr)
        let rep = try JSONDecoder().decode(Report.self, from: Data(r.stdout.utf8))
        XCTAssertEqual(rep.images, 3)
        XCTAssertTrue(rep.channels.allSatisfy { $0.entries.count == 3 && !$0.entries.contains { $0.path.hasSuffix("broken.png") } })

        let s = try loupe(["top-patches", Self.gap, dir.path, "--layer", "/12/Relu", "--preprocess", "none", "-k", "3", "--json", "--strict"])
        XCTAssertEqual(s.status, 1)
        XCTAssertTrue(s.stderr.contains("001-broken.png"), s.stderr)
        XCTAssertTrue(s.stderr.contains("--strict"), s.stderr)
    }

    func testBadInput() throws {
        let dir = try TemporaryFolder.make("loupe-top-patches-args", for: self)
        func fails(_ args: [String], _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
            let r = try loupe(["top-patches", Self.gap, Self.test, "--preprocess", "none"] + args)
            XCTAssertNotEqual(r.status, 0, file: file, line: line)
            XCTAssertTrue(r.stderr.contains(message), "\(args): \(r.stderr)", file: file, line: line)
        }
        try fails(["--layer", "/13/GlobalAveragePool", "--json"], "has no finite receptive field")
        try fails(["--layer", "/15/Gemm", "--json"], "top patches need a spatial map")
        try fails(["--layer", "/12/Relu", "--channels", "3,64", "--json"], "channel 64 is out of range: layer '/12/Relu' has 64 channels (0 to 63)")
        try fails(["--layer", "/12/Relu", "--channels", "3,x", "--json"], "--channels expects comma-separated channel indices")
        try fails(["--layer", "/12/Relu", "--channels", "3,3", "--json"], "names channel 3 twice")
        try fails(["--layer", "/12/Relu", "-k", "121", "--json"], "-k 121 is larger than the set: 120 images")
        try fails(["--layer", "/12/Relu"], "give -o grid.png, --json, or both")
        try fails(["--layer", "/12/Relux", "--json"], "names no layer or tensor")
        let existing = dir.appendingPathComponent("grid.png").path
        try Data("mine".utf8).write(to: URL(fileURLWithPath: existing))
        try fails(["--layer", "/12/Relu", "-o", existing], "exists; pass --force")
        XCTAssertEqual(try String(contentsOfFile: existing, encoding: .utf8), "mine")
    }
}
