import Foundation
import LoupeGraph
import LoupeTensor
import LoupeTestSupport
import XCTest

@testable import LoupeFormats

/// The read limits of docs/fuzzing.md, and every input the fuzz targets (Fuzz/, Scripts/fuzz.sh)
/// found crashing a reader, replayed through the reader the CLI uses: each must now give a
/// `LoupeError`. The crashing inputs live in Fixtures/fuzz/ and in the target's seed corpus.
final class FuzzRegressionTests: XCTestCase {
    private func loupeError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> LoupeError? {
        do {
            try body()
            XCTFail("expected a LoupeError", file: file, line: line)
        } catch let e as LoupeError {
            return e
        } catch {
            XCTFail("not a LoupeError: \(error)", file: file, line: line)
        }
        return nil
    }

    /// A one-element tensor whose external data (no length) is a 4 GiB file: refused from the
    /// sizes alone, before a byte is read (the file is sparse, so reading it would take 4 GiB
    /// of memory, not of disk).
    func testExternalDataLongerThanTheTensorIsRefusedBeforeReading() throws {
        let dir = try TemporaryFolder.make("loupe-fuzz", for: self)
        let model = dir.appendingPathComponent("external-big.onnx").path
        try FileManager.default.copyItem(atPath: fixture("fuzz/external-big.onnx"), toPath: model)
        let big = dir.appendingPathComponent("big.bin").path
        XCTAssertTrue(FileManager.default.createFile(atPath: big, contents: nil))
        XCTAssertEqual(truncate(big, 4 << 30), 0)
        let e = try XCTUnwrap(loupeError { _ = try ModelFile.load(path: model) })
        for part in ["external-big.onnx", "'w'", "needs 4 bytes", "'big.bin'", "holds 4294967296"] {
            XCTAssertTrue(e.message.contains(part), e.message)
        }
    }

    /// fuzz-onnx: a Split node on a scalar (rank-0) input trapped with an index out of range in
    /// its shape inference (`loupe inspect` crashed); now a shape error naming the node.
    func testSplitOfAScalarIsAShapeError() throws {
        let graph = try ModelFile.load(path: fixture("fuzz/onnx-split-scalar.onnx"))
        let types = try ModelFile.inputTypes(graph)
        let e = try XCTUnwrap(loupeError { _ = try GraphSummary(graph: graph, inputTypes: types) })
        XCTAssertTrue(e.message.contains("Split needs an input of rank 1 or more"), e.message)
    }

    /// fuzz-keras-h5 (fork mode): inputs on which libhdf5 itself crashes (in `H5HG_read` and
    /// `H5C_protect`, where Loupe cannot catch anything). Through `ModelFile.load`, the guard's
    /// child dies and the caller gets an error naming the file.
    func testLibHDF5CrashesAreCaughtByTheGuard() throws {
        for name in ["h5-libhdf5-crash-vlen.h5", "h5-libhdf5-crash-2.h5"] {
            let e = try XCTUnwrap(loupeError { _ = try ModelFile.load(path: fixture("fuzz/\(name)")) })
            XCTAssertTrue(e.message.contains(name), e.message)
        }
    }

    /// fuzz-png: a 105-byte PNG whose `sPLT` chunk declares 2,130,706,447 bytes made libpng
    /// allocate and zero-fill 2 GB before finding the data missing (libFuzzer's out-of-memory
    /// report, which the earlier notes took for memory growing over the run). The chunk walk
    /// now refuses a chunk longer than the rest of the file before libpng sees it: the error
    /// names the chunk and the process's peak memory does not move by hundreds of megabytes.
    func testPNGChunkLongerThanTheFileIsRefusedBeforeLibpngAllocatesIt() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture("fuzz/png-splt-2gb.png")))
        XCTAssertEqual(data.count, 105)
        var before = rusage(), after = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &before)
        let e = try XCTUnwrap(loupeError { _ = try ImageIO.decode(data) })
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &after)
        XCTAssertEqual(e.kind, .invalidModel)
        for part in ["truncated", "'sPLT'", "at byte 33", "declares 2130706447 bytes", "holds 60 after it"] {
            XCTAssertTrue(e.message.contains(part), e.message)
        }
        XCTAssertLessThan(after.ru_maxrss - before.ru_maxrss, 256 << 10, "peak RSS grew (KiB)")
        // A chunk that fits is left to libpng, and a well-formed file still decodes.
        let good = try ImageIO.decode(Data(contentsOf: URL(fileURLWithPath: fixture("palette.png"))))
        XCTAssertGreaterThan(good.width, 0)
    }

    /// fuzz-keras-h5: 19 inputs of 19 that hung libhdf5, and the one on which it crashed in
    /// `H5HG_read`, hold a global heap collection libhdf5 cannot walk. Checked on collections
    /// built here byte by byte (the layout of the HDF5 specification, 8-byte lengths): a walk
    /// that fits passes, an object 0 of size 0 and an object past the end are refused.
    func testGlobalHeapThatLibHDF5CannotWalkIsRefused() throws {
        func collection(_ objects: [(index: UInt16, size: UInt64)], size: UInt64 = 64) -> [UInt8] {
            var b = Array("GCOL".utf8) + [1, 0, 0, 0] + withUnsafeBytes(of: size.littleEndian, Array.init)
            for o in objects {
                b += withUnsafeBytes(of: o.index.littleEndian, Array.init) + [1, 0, 0, 0, 0, 0]
                b += withUnsafeBytes(of: o.size.littleEndian, Array.init)
                if o.index > 0, o.size < 1024 { b += [UInt8](repeating: 0x41, count: Int((o.size + 7) / 8 * 8)) }
            }
            return [UInt8](repeating: 0, count: 8) + b + [UInt8](repeating: 0, count: max(0, 8 + Int(size) - b.count))
        }
        func check(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try HDF5GlobalHeapCheck.check($0, name: "w.h5") } }
        // 16-byte header, one object of 5 bytes (16 + 8), free space of the remaining 24.
        XCTAssertNoThrow(try check(collection([(1, 5), (0, 24)])))
        let loop = try XCTUnwrap(loupeError { try check(collection([(1, 5), (0, 0)])) })
        for part in ["w.h5", "global heap at byte 8", "object 0 at byte 48 declares 0 bytes", "loop forever"] {
            XCTAssertTrue(loop.message.contains(part), loop.message)
        }
        let past = try XCTUnwrap(loupeError { try check(collection([(1, 41)])) })
        XCTAssertTrue(past.message.contains("object 1 at byte 24 declares 41 bytes, past the heap's end at byte 72"), past.message)
        XCTAssertNotNil(loupeError { try check(collection([(2, .max)])) })
        XCTAssertNotNil(loupeError { _ = try ModelFile.load(path: fixture("fuzz/h5-libhdf5-crash-vlen.h5")) })
    }

    /// The per-file budget counts every tensor a file decodes and refuses the one that would
    /// pass `maxDecodedBytesPerFile`, naming the file, the tensor and the limit.
    func testPerFileBudgetRefusesTheTensorThatPassesTheLimit() throws {
        let budget = ReadLimits.Budget(file: "model.h5")
        try budget.take(ReadLimits.maxDecodedBytesPerFile - 8, for: "dataset 'a'")
        try budget.take(8, for: "dataset 'b'")
        let e = try XCTUnwrap(loupeError { try budget.take(1, for: "dataset 'c'") })
        XCTAssertEqual(e.kind, .tooLarge)
        for part in ["model.h5", "dataset 'c'", "\(ReadLimits.maxDecodedBytesPerFile)", "maxDecodedBytesPerFile"] {
            XCTAssertTrue(e.message.contains(part), e.message)
        }
        XCTAssertNotNil(loupeError { try ReadLimits.Budget(file: nil).take(.max, for: "x") })
    }
}
