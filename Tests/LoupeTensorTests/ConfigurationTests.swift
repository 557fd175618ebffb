import Foundation
import XCTest
@testable import LoupeTensor

/// The tuning knobs are one value with documented defaults, and the threading policy holds for
/// a library user who never calls `Threads.set`.
final class ConfigurationTests: XCTestCase {
    func testDefaults() {
        let c = LoupeConfiguration()
        XCTAssertEqual(c.threads, ProcessInfo.processInfo.activeProcessorCount)
        XCTAssertEqual(c.maxElements, 1 << 31)
        XCTAssertEqual(c.gemmSplitMinMACs, 1 << 18)
        XCTAssertEqual(c.gemmSplitMinSide, 16)
        XCTAssertEqual(c.splitRowsMin, 32)
        XCTAssertEqual(c.im2colTileFloats, 1 << 18)
        XCTAssertEqual(c.im2colMinTileColumns, 512)
    }

    func testUpdateIsSeenByKernelsAndClampsCounts() throws {
        let saved = LoupeConfiguration.current
        defer { LoupeConfiguration.current = saved }
        LoupeConfiguration.update { $0.maxElements = 100; $0.threads = 0 }
        XCTAssertEqual(Threads.count, 1, "a thread count below 1 becomes 1")
        XCTAssertEqual(Tensor.maxElements, 100)
        XCTAssertThrowsError(try Tensor.checkedCount([11, 10]))
        XCTAssertEqual(try Tensor.checkedCount([10, 10]), 100)
        LoupeConfiguration.current = saved
        XCTAssertEqual(try Tensor.checkedCount([11, 10]), 110)
    }

    /// OpenBLAS is made single-threaded by the first `sgemm`, with no `Threads.set` call.
    func testOpenBLASRunsSingleThreadedAfterAnySgemm() {
        let a: [Float] = [1, 2, 3, 4], b: [Float] = [5, 6, 7, 8]
        var c = [Float](repeating: 0, count: 4)
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            sgemm(m: 2, n: 2, k: 2, a: pa.baseAddress!, lda: 2, b: pb.baseAddress!, ldb: 2, c: pc.baseAddress!, ldc: 2)
        }}}
        XCTAssertEqual(c, [19, 22, 43, 50])
        XCTAssertEqual(OpenBLAS.threads, 1)
    }

    func testLockedMutationsFromManyThreadsAllLand() {
        let counter = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 1000) { _ in counter.mutate { $0 += 1 } }
        XCTAssertEqual(counter.value, 1000)
    }

    /// The kernel family follows the CPU's instruction sets unless OPENBLAS_CORETYPE is set.
    func testOpenBLASCoreTypeFollowsTheInstructionSets() {
        let avx512: Set<Substring> = ["sse2", "avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]
        XCTAssertEqual(OpenBLAS.coreType(forFlags: avx512), "SkylakeX")
        XCTAssertEqual(OpenBLAS.coreType(forFlags: avx512.subtracting(["avx512vl"])), "Haswell")
        XCTAssertEqual(OpenBLAS.coreType(forFlags: ["sse2", "avx", "avx2", "fma"]), "Haswell")
        XCTAssertNil(OpenBLAS.coreType(forFlags: ["sse2", "avx", "avx2"]))
        XCTAssertNil(OpenBLAS.coreType(forFlags: []))
        // This process: the library runs the family Loupe chose, or the one the user set.
        let name = OpenBLAS.coreName.lowercased()
        if let chosen = OpenBLAS.library.chosenCoreType {
            XCTAssertEqual(name, chosen.lowercased())
            XCTAssertEqual(chosen, OpenBLAS.coreType(forFlags: OpenBLAS.cpuFlags()))
        } else if let set = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"], !set.isEmpty {
            XCTAssertEqual(name, set.lowercased())
        }
    }
}
