import Foundation
import LoupeTensor
import XCTest

@testable import LoupeFormats

/// The features file (`FeatureWriter`, `FeatureFile.read`, `merge`), the HDF5 writer under it,
/// shard arithmetic and image collection.
final class FeatureFileTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-featurefile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        dir = d.path
        addTeardownBlock { try? FileManager.default.removeItem(at: d) }
    }

    private func header(shard: Int = 0, of count: Int = 1, total: Int = 5, labels: [String]? = ["cat", "dög"]) -> FeatureFile.Header {
        FeatureFile.Header(modelSHA256: "abc", modelPath: "m.onnx", layer: "fc_in", pool: "none", preprocess: "{}",
                           shardIndex: shard, shardCount: count, totalImages: total, imagesSHA256: "def", labelNames: labels)
    }

    private func message(_ body: () throws -> Any) -> String? {
        do { _ = try body() } catch let e as LoupeError { return e.message } catch { return "not a LoupeError: \(error)" }
        return nil
    }

    func testWrittenRowsReadBackThroughBothReaders() throws {
        let path = "\(dir)/f.h5"
        do {
            let w = try FeatureWriter(path: path, header: header(), dimension: 3)
            try w.append(features: [1, 2, 3, 4, 5, 6], paths: ["a/x.png", "b/é.png"], labels: [0, 1], index: [0, 1], processed: 2)
            try w.append(features: [7, 8, 9], paths: ["c.png"], labels: [-1], index: [3], processed: 4)
        }
        let f = try FeatureFile.read(path)
        XCTAssertEqual(f.header, header())
        XCTAssertEqual(f.features, [1, 2, 3, 4, 5, 6, 7, 8, 9])
        XCTAssertEqual(f.dimension, 3)
        XCTAssertEqual(f.paths, ["a/x.png", "b/é.png", "c.png"])
        XCTAssertEqual(f.labels, [0, 1, -1])
        XCTAssertEqual(f.index, [0, 1, 3])
        XCTAssertEqual(f.processed, 4)
        XCTAssertFalse(f.isComplete)

        let h5 = try HDF5File(path: path)
        XCTAssertEqual(try h5.tensor("features").shape, [3, 3])
        XCTAssertEqual(try h5.tensor("labels").floats, [0, 1, -1])
        XCTAssertEqual(try h5.strings("/", "layer"), ["fc_in"])
        XCTAssertEqual(try h5.strings("/", "processed"), ["4"])
        XCTAssertEqual(try HDF5Store(path: path, mode: .readOnly).strings("label_names"), ["cat", "dög"])
    }

    func testResumeCutsRowsWrittenAfterTheLastCommitAndRefusesAnotherRun() throws {
        let path = "\(dir)/f.h5"
        do {
            let w = try FeatureWriter(path: path, header: header(), dimension: 2)
            try w.append(features: [1, 2], paths: ["a.png"], labels: [0], index: [0], processed: 1)
        }
        do {
            // A batch whose rows reached the file but whose attributes did not (an interrupted run).
            let s = try HDF5Store(path: path, mode: .readWrite)
            try s.append("features", floats: [9, 9])
            try s.append("paths", strings: ["torn.png"])
        }
        do {
            let w = try FeatureWriter(path: path, header: header(), dimension: 2)
            XCTAssertTrue(w.resumed)
            XCTAssertEqual(w.rows, 1)
            XCTAssertEqual(w.processed, 1)
            try w.append(features: [3, 4], paths: ["b.png"], labels: [1], index: [1], processed: 2)
        }
        let f = try FeatureFile.read(path)
        XCTAssertEqual(f.paths, ["a.png", "b.png"])
        XCTAssertEqual(f.features, [1, 2, 3, 4])

        var other = header()
        other.modelSHA256 = "xyz"
        other.layer = "conv"
        let m = message { try FeatureWriter(path: path, header: other, dimension: 2) }
        XCTAssertEqual(m, "\(path) holds features of another run (it differs in model_sha256, layer); \(FeatureFile.startOverHint)")
        XCTAssertNotNil(message { try FeatureWriter(path: path, header: header(), dimension: 5) }?.range(of: "feature size (2 here, 5 now)"))
        XCTAssertFalse(try FeatureWriter(path: path, header: other, dimension: 2, startOver: true).resumed)
        XCTAssertEqual(try FeatureFile.read(path).rows, 0)

        try Data("plain text".utf8).write(to: URL(fileURLWithPath: "\(dir)/t.h5"))
        XCTAssertEqual(message { try FeatureWriter(path: "\(dir)/t.h5", header: header(), dimension: 2) },
                       "\(dir)/t.h5 exists and is not a Loupe features file; \(FeatureFile.startOverHint)")
    }

    func testMergeRestoresTheOrderAndNamesMissingShards() throws {
        // Five images in two shards: 0, 2, 4 and 1, 3 (image 3 unreadable, skipped).
        do {
            let w0 = try FeatureWriter(path: "\(dir)/0.h5", header: header(shard: 0, of: 2), dimension: 1)
            try w0.append(features: [0, 20, 40], paths: ["i0", "i2", "i4"], labels: [0, 0, 1], index: [0, 2, 4], processed: 3)
            let w1 = try FeatureWriter(path: "\(dir)/1.h5", header: header(shard: 1, of: 2), dimension: 1)
            try w1.append(features: [10], paths: ["i1"], labels: [1], index: [1], processed: 2)
        }
        let m = try FeatureFile.merge(["\(dir)/1.h5", "\(dir)/0.h5"], to: "\(dir)/all.h5")
        XCTAssertEqual(m.paths, ["i0", "i1", "i2", "i4"])
        let f = try FeatureFile.read("\(dir)/all.h5")
        XCTAssertEqual(f.features, [0, 10, 20, 40])
        XCTAssertEqual(f.index, [0, 1, 2, 4])
        XCTAssertEqual(f.labels, [0, 1, 0, 1])
        XCTAssertEqual(f.header, header())
        XCTAssertTrue(f.isComplete)

        XCTAssertEqual(message { try FeatureFile.merge(["\(dir)/1.h5"], to: "\(dir)/x.h5") }, "shard 0/2 is missing; given: 1/2 (\(dir)/1.h5)")
        XCTAssertEqual(message { try FeatureFile.merge(["\(dir)/1.h5", "\(dir)/0.h5"], to: "\(dir)/all.h5") },
                       "\(dir)/all.h5 exists; \(FeatureFile.startOverHint)")
    }

    func testShards() throws {
        let s = try FeatureFile.Shard(parsing: "1/3")
        XCTAssertEqual(s.positions(of: 8), [1, 4, 7])
        XCTAssertEqual(s.size(of: 8), 3)
        XCTAssertEqual(FeatureFile.Shard(index: 2, count: 3).size(of: 2), 0)
        for bad in ["4/4", "-1/2", "1", "a/b", "0/0", "1/2/3"] {
            XCTAssertThrowsError(try FeatureFile.Shard(parsing: bad), bad)
        }
        XCTAssertEqual(message { try FeatureFile.Shard(parsing: "4/4") }, "shard 4/4: the index must be from 0 to 3 (0-based), got 4")
    }

    func testImageCollectionWalksFoldersSortedAndLabelsByParentFolder() throws {
        let fm = FileManager.default
        for sub in ["data/b", "data/a/x", "data/.hidden"] { try fm.createDirectory(atPath: "\(dir)/\(sub)", withIntermediateDirectories: true) }
        for f in ["data/b/2.jpg", "data/a/1.png", "data/a/x/3.JPEG", "data/top.png", "data/readme.md", "data/.hidden/h.txt", "single.gif"] {
            try Data().write(to: URL(fileURLWithPath: "\(dir)/\(f)"))
        }
        let c = try ImageCollection.gather(["\(dir)/data/", "\(dir)/single.gif"], labelsFromFolders: true)
        XCTAssertEqual(c.paths, ["a/1.png", "a/x/3.JPEG", "b/2.jpg", "top.png"].map { "\(dir)/data/\($0)" } + ["\(dir)/single.gif"])
        XCTAssertEqual(c.classes, ["a", "a/x", "b"])
        XCTAssertEqual(c.labelIndices, [0, 1, 2, -1, -1])
        XCTAssertEqual(c.skipped.map(\.count), [2])
        XCTAssertEqual(try ImageCollection.gather(["\(dir)/data"]).labelIndices, [-1, -1, -1, -1])
        XCTAssertEqual(message { try ImageCollection.gather(["\(dir)/nope"]) }, "cannot read image '\(dir)/nope': no such file or folder")
    }
}
