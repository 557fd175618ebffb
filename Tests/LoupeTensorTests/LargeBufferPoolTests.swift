import Foundation
import XCTest
import CDNNL
@testable import LoupeTensor

/// `LargeBufferPool`: activation buffers above glibc's mmap threshold are kept for the next
/// allocation of the same size (so they are not page-faulted again), within a byte budget.
final class LargeBufferPoolTests: XCTestCase {
    func allocate(_ bytes: Int) -> UnsafeMutableRawPointer {
        var p: UnsafeMutableRawPointer? = nil
        XCTAssertEqual(posix_memalign(&p, 64, bytes), 0)
        return p!
    }

    func testSameSizeIsReusedOtherSizesAreNot() {
        let big = LargeBufferPool.threshold + 4096 * 7
        let p = allocate(big)
        LargeBufferPool.give(p, big)
        XCTAssertNil(LargeBufferPool.take(big + 64), "another size")
        XCTAssertEqual(LargeBufferPool.take(big), p)
        XCTAssertNil(LargeBufferPool.take(big), "taken once")
        free(p)

        let small = LargeBufferPool.threshold - 64
        let q = allocate(small)
        LargeBufferPool.give(q, small)  // freed, not kept
        XCTAssertNil(LargeBufferPool.take(small))
    }

    func testTheBudgetEvictsTheOldest() {
        let size = LargeBufferPool.threshold + 4096 * 11
        let count = LargeBufferPool.capacity / size + 2
        let pointers = (0..<count).map { _ in allocate(size) }
        for p in pointers { LargeBufferPool.give(p, size) }
        var back: [UnsafeMutableRawPointer] = []
        while let p = LargeBufferPool.take(size) { back.append(p) }
        XCTAssertEqual(back.count, LargeBufferPool.capacity / size, "what fits in the budget")
        XCTAssertEqual(Set(back), Set(pointers.suffix(back.count)), "the newest are kept")
        back.forEach { free($0) }
    }

    /// A carried activation of a pooled size gets the buffer the previous one gave back.
    func testCarriedLayoutsReuseTheirBuffers() throws {
        let desc = try OneDNN.plainDesc([1, 16, 1024, 1024], dnnl_nchw)  // 64 MiB
        var pointer: UnsafeMutableRawPointer? = nil
        do {
            let a = CarriedLayout(desc)
            pointer = a.buffer
            withExtendedLifetime(a) {}
        }
        let b = CarriedLayout(desc)
        XCTAssertEqual(b.buffer, pointer)
    }
}
