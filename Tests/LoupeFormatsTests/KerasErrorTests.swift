import Foundation
import LoupeGraph
import LoupeTensor
import LoupeTestSupport
import XCTest

@testable import LoupeFormats

/// Bad Keras input: each error names what is wrong and where, and nothing crashes.
final class KerasErrorTests: XCTestCase {
    private func error(_ path: String, config: String? = nil, file: StaticString = #filePath, line: UInt = #line) -> LoupeError? {
        do {
            _ = try ModelFile.load(path: path, config: config)
            XCTFail("expected an error for \(path)", file: file, line: line)
        } catch let e as LoupeError {
            return e
        } catch {
            XCTFail("not a LoupeError: \(error)", file: file, line: line)
        }
        return nil
    }

    private func tempDir() throws -> URL { try TemporaryFolder.make("loupe-keras", for: self) }

    func testWeightsOnlyWithoutConfigSaysHowToPassIt() throws {
        let e = try XCTUnwrap(error(fixture("keras/k2_weights_only.h5")))
        XCTAssertEqual(e.kind, .invalidArgument)
        XCTAssertTrue(e.message.contains("k2_weights_only.h5"), e.message)
        XCTAssertTrue(e.message.contains("weights only"), e.message)
        XCTAssertTrue(e.message.contains("`config`"), e.message)  // the argument; the CLI says --config (KerasCLITests)
    }

    func testUnsupportedLayerNamesLayerClassAndFile() throws {
        let e = try XCTUnwrap(error(fixture("keras/lambda.keras")))
        XCTAssertEqual(e.kind, .unsupported)
        for part in ["lambda.keras", "'double'", "'Lambda'"] { XCTAssertTrue(e.message.contains(part), e.message) }
    }

    func testArchiveEntryEscapingIsRefused() throws {
        let e = try XCTUnwrap(error(fixture("keras/escape.keras")))
        XCTAssertTrue(e.message.contains("../escaped.txt"), e.message)
        XCTAssertTrue(e.message.contains("outside"), e.message)
    }

    func testDeflatedArchiveIsReportedUnsupported() throws {
        let e = try XCTUnwrap(error(fixture("keras/deflated.keras")))
        XCTAssertEqual(e.kind, .unsupported)
        XCTAssertTrue(e.message.contains("compressed"), e.message)
    }

    func testTruncatedAndCorruptFilesGiveClearErrors() throws {
        let dir = try tempDir()
        for name in ["k3_functional.h5", "k3_functional.keras", "k2_functional.h5"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: fixture("keras/\(name)")))
            for cut in [16, data.count / 3, data.count - 100] {
                let p = dir.appendingPathComponent("cut-\(cut)-\(name)").path
                try data.prefix(cut).write(to: URL(fileURLWithPath: p))
                let e = try XCTUnwrap(error(p))
                XCTAssertTrue(e.message.contains("cut-\(cut)-\(name)"), e.message)
            }
            // Flipped bytes in the middle of the file.
            var bad = data
            for i in stride(from: data.count / 2, to: data.count / 2 + 64, by: 1) { bad[i] ^= 0x5A }
            let p = dir.appendingPathComponent("flipped-\(name)").path
            try bad.write(to: URL(fileURLWithPath: p))
            if let g = try? ModelFile.load(path: p) {
                // A flip that lands in weight values still loads; the graph must still be well formed.
                XCTAssertFalse(g.nodes.isEmpty)
            }
        }
        let p = dir.appendingPathComponent("text.h5").path
        try Data("not hdf5 at all".utf8).write(to: URL(fileURLWithPath: p))
        XCTAssertTrue(try XCTUnwrap(error(p)).message.contains("not an HDF5 file"))
    }

    func testMissingAndBrokenConfig() throws {
        let e = try XCTUnwrap(error(fixture("keras/k2_weights_only.h5"), config: "/nonexistent/model.json"))
        XCTAssertEqual(e.kind, .io)
        let dir = try tempDir()
        let p = dir.appendingPathComponent("broken.json").path
        try Data("{\"class_name\": ".utf8).write(to: URL(fileURLWithPath: p))
        XCTAssertTrue(try XCTUnwrap(error(fixture("keras/k2_weights_only.h5"), config: p)).message.contains("broken.json"))
        // A config whose layer has no weights in the file.
        let cfg = try String(contentsOfFile: fixture("keras/k2_config.json"), encoding: .utf8).replacingOccurrences(of: "\"hs\"", with: "\"renamed\"")
        let q = dir.appendingPathComponent("renamed.json").path
        try cfg.write(toFile: q, atomically: true, encoding: .utf8)
        let e2 = try XCTUnwrap(error(fixture("keras/k2_weights_only.h5"), config: q))
        XCTAssertTrue(e2.message.contains("renamed"), e2.message)
    }

    func testZipReaderRejectsNonZip() throws {
        XCTAssertThrowsError(try ZipArchive(data: Data(repeating: 7, count: 100), name: "x.keras"))
        XCTAssertEqual(ZipArchive.crc32(Data("123456789".utf8)), 0xCBF4_3926)
    }

    /// The fuzzed Keras 2 file on which libhdf5 never finishes reading (its global heap holds
    /// an object 0 of size 0, on which libhdf5's heap walk steps by nothing): refused by
    /// `HDF5GlobalHeapCheck` before libhdf5 reads it, with the byte offsets, instead of
    /// waiting for the guard's timeout.
    func testModelFileLoadRefusesAFileThatHangsLibHDF5() throws {
        let e = try XCTUnwrap(error(fixture("keras/corrupt-hangs-libhdf5.h5")))
        XCTAssertEqual(e.kind, .invalidModel)
        for part in ["corrupt-hangs-libhdf5.h5", "damaged HDF5 global heap at byte 14008", "object 0 at byte 15584 declares 0 bytes", "loop forever"] {
            XCTAssertTrue(e.message.contains(part), e.message)
        }
    }

    /// The guard's own answers when its child hangs or dies, whatever the cause: a checker
    /// that sleeps past the timeout, and one that kills itself with SIGSEGV.
    func testHDF5GuardReportsAChildThatHangsOrCrashes() throws {
        let saved = (HDF5Guard.checker, HDF5Guard.timeout)
        defer { (HDF5Guard.checker, HDF5Guard.timeout) = saved }
        HDF5Guard.timeout = 2
        HDF5Guard.checker = ["/bin/sh", "-c", "exec sleep 30", "sh"]
        let hang = try XCTUnwrap(error(fixture("keras/k3_functional.h5")))
        XCTAssertTrue(hang.message.contains("k3_functional.h5") && hang.message.contains("did not finish in 2 s"), hang.message)
        HDF5Guard.checker = ["/bin/sh", "-c", "kill -SEGV $$", "sh"]
        let crash = try XCTUnwrap(error(fixture("keras/k3_functional.h5")))
        XCTAssertTrue(crash.message.contains("k3_functional.h5") && crash.message.contains("libhdf5 crashed (signal 11)"), crash.message)
    }

    /// A checker that cannot start is an error, not a silent unguarded read; the unguarded
    /// mode reads in process.
    func testHDF5GuardWithoutAChecker() throws {
        let saved = HDF5Guard.checker
        defer { HDF5Guard.checker = saved; HDF5Guard.enabled = true }
        HDF5Guard.checker = ["/nonexistent/loupe-check-model"]
        let e = try XCTUnwrap(error(fixture("keras/k3_functional.h5")))
        XCTAssertTrue(e.message.contains("cannot start the HDF5 checker /nonexistent/loupe-check-model"), e.message)
        HDF5Guard.enabled = false
        XCTAssertFalse(try ModelFile.load(path: fixture("keras/k3_functional.h5")).nodes.isEmpty)
    }
}
