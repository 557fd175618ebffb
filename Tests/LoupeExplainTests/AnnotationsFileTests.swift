import Foundation
import LoupeExplain
import LoupeTensor
import LoupeTestSupport
import XCTest

/// The annotations (boxes) reader on inputs fuzz-annotations found or that a fuzzer cannot make
/// (docs/fuzzing.md): each gives a `LoupeError` naming the file, and nothing leaks or hangs.
final class AnnotationsFileTests: XCTestCase {
    private func message(_ path: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try PointingGame.annotations(file: path)
            XCTFail("expected an error for \(path)", file: file, line: line)
        } catch let e as LoupeError {
            return e.message
        } catch {
            XCTFail("not a LoupeError: \(error)", file: file, line: line)
        }
        return ""
    }

    /// fuzz-annotations: an empty file made Foundation's reader leak 4 KiB (LeakSanitizer);
    /// it is refused before reading.
    func testEmptyFileIsRefusedBeforeReading() throws {
        let dir = try TemporaryFolder.make("loupe-annotations", for: self)
        let path = dir.appendingPathComponent("empty.json").path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data()))
        let m = message(path)
        XCTAssertTrue(m.contains(path) && m.contains("holds 0 bytes"), m)
    }

    /// A folder, and a FIFO (which Foundation would wait on forever), are not read.
    func testNonRegularFilesAreRefused() throws {
        let dir = try TemporaryFolder.make("loupe-annotations", for: self)
        XCTAssertTrue(message(dir.path).contains("not a regular file"))
        let fifo = dir.appendingPathComponent("boxes.json").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertTrue(message(fifo).contains("not a regular file"))
    }

    /// The shapes set's own file still reads: 120 boxes, the first one the circle's.
    func testShapesAnnotationsStillRead() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let all = try PointingGame.annotations(file: root.appendingPathComponent("SampleModels/shapes/test/annotations.json").path)
        XCTAssertEqual(all.count, 120)
        XCTAssertEqual(all[0].file, "000-circle.png")
    }

    /// A symbolic link to the file reads as the file (the regular-file check follows the link).
    func testSymbolicLinkToTheFileReads() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = try TemporaryFolder.make("loupe-annotations", for: self)
        let link = dir.appendingPathComponent("boxes.json").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: root.appendingPathComponent("SampleModels/shapes/test/annotations.json").path)
        XCTAssertEqual(try PointingGame.annotations(file: link).count, 120)
    }
}
