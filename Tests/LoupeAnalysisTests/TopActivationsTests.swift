import XCTest
import LoupeTensor
@testable import LoupeAnalysis

/// The streaming per-channel heaps against a brute force: every image's strongest position per
/// channel (a plain scan), all of them sorted by the documented order, the first k kept.
final class TopActivationsTests: XCTestCase {
    typealias Entry = TopActivations.Entry

    /// Random activations [n, c, h, w] from a few levels only, so that ties are everywhere.
    func activations(_ n: Int, _ c: Int, _ h: Int, _ w: Int, levels: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<(n * c * h * w)).map { _ in Float(Int(rng.nextFloat() * Float(levels))) - 2 }
    }

    /// The brute force, independent of the heap: sort everything by (−value, image, y, x).
    func bruteForce(_ a: [Float], _ n: Int, _ c: Int, _ h: Int, _ w: Int, k: Int) -> [[Entry]] {
        (0..<c).map { ch in
            var perImage: [Entry] = []
            for i in 0..<n {
                var all: [Entry] = []
                for y in 0..<h { for x in 0..<w {
                    let v = a[((i * c + ch) * h + y) * w + x]
                    if !v.isNaN { all.append(Entry(value: v, item: i, y: y, x: x)) }
                } }
                all.sort { ($0.value, -$0.y, -$0.x) > ($1.value, -$1.y, -$1.x) }
                if let best = all.first { perImage.append(best) }
            }
            perImage.sort { ($0.value, -$0.item) > ($1.value, -$1.item) }
            return Array(perImage.prefix(k))
        }
    }

    func nhwc(_ a: [Float], _ n: Int, _ c: Int, _ h: Int, _ w: Int) -> [Float] {
        var out = [Float](repeating: 0, count: a.count)
        for i in 0..<n { for ch in 0..<c { for y in 0..<h { for x in 0..<w {
            out[((i * h + y) * w + x) * c + ch] = a[((i * c + ch) * h + y) * w + x]
        } } } }
        return out
    }

    func testHeapEqualsBruteForceWithTiesInAnyBatchingAndLayout() {
        let cases: [(n: Int, c: Int, h: Int, w: Int, k: Int, levels: Int)] = [
            (37, 5, 4, 3, 9, 4),     // heavy ties
            (50, 3, 7, 7, 6, 1000),  // few ties
            (6, 4, 2, 5, 9, 3),      // k larger than the set
            (1, 2, 1, 1, 1, 2),
            (64, 8, 3, 3, 1, 5),
        ]
        for (t, s) in cases.enumerated() {
            let a = activations(s.n, s.c, s.h, s.w, levels: s.levels, seed: UInt64(t + 1))
            let want = bruteForce(a, s.n, s.c, s.h, s.w, k: s.k)
            let per = s.c * s.h * s.w
            for batch in [1, 4, s.n] {
                var top = TopActivations(channels: s.c, k: s.k)
                var nhwcTop = TopActivations(channels: s.c, k: s.k)
                // Batches in reverse order: the result must not depend on it.
                for start in stride(from: 0, to: s.n, by: batch).reversed() {
                    let end = min(start + batch, s.n)
                    let part = Array(a[(start * per)..<(end * per)])
                    top.add(part, count: end - start, height: s.h, width: s.w, firstItem: start)
                    nhwcTop.add(nhwc(part, end - start, s.c, s.h, s.w), count: end - start, height: s.h, width: s.w,
                                layout: .channelsLast, firstItem: start)
                }
                XCTAssertTrue(top.checkInvariants())
                for ch in 0..<s.c {
                    XCTAssertEqual(top.entries(channel: ch), want[ch], "case \(t) batch \(batch) channel \(ch)")
                    XCTAssertEqual(nhwcTop.entries(channel: ch), want[ch], "case \(t) batch \(batch) channel \(ch), NHWC")
                    XCTAssertEqual(top.entries(channel: ch).count, min(s.k, s.n))
                    XCTAssertEqual(Set(top.entries(channel: ch).map(\.item)).count, top.entries(channel: ch).count, "one entry per image")
                }
            }
        }
    }

    func testStrongestChannelsAreTheLargestMaximaWithTiesToTheSmallerIndex() {
        let n = 3, c = 6
        // Channel maxima: 5, 7, 7, -1, 2, 7 (each channel's value at image 1, position 0).
        let maxima: [Float] = [5, 7, 7, -1, 2, 7]
        var a = [Float](repeating: -3, count: n * c * 2 * 2)
        for ch in 0..<c { a[(1 * c + ch) * 4] = maxima[ch] }
        var top = TopActivations(channels: c, k: 2)
        top.add(a, count: n, height: 2, width: 2, firstItem: 0)
        XCTAssertEqual(top.strongestChannels(4), [1, 2, 5, 0])
        XCTAssertEqual(top.strongestChannels(10), [1, 2, 5, 0, 4, 3])
        XCTAssertEqual(top.strongest(channel: 3), Entry(value: -1, item: 1, y: 0, x: 0))
        // The second entry of a channel: the earliest other image, at its first position.
        XCTAssertEqual(top.entries(channel: 0), [Entry(value: 5, item: 1, y: 0, x: 0), Entry(value: -3, item: 0, y: 0, x: 0)])
    }

    func testNaNIsIgnored() {
        var top = TopActivations(channels: 2, k: 3)
        let nan = Float.nan
        // Image 0: channel 0 all NaN, channel 1 NaN then 4; image 1: channel 0 is 1 then NaN.
        top.add([nan, nan, nan, 4, 1, nan, 0, 0], count: 2, height: 1, width: 2, firstItem: 10)
        XCTAssertEqual(top.entries(channel: 0), [Entry(value: 1, item: 11, y: 0, x: 0)])
        XCTAssertEqual(top.entries(channel: 1), [Entry(value: 4, item: 10, y: 0, x: 1), Entry(value: 0, item: 11, y: 0, x: 0)])
    }
}
