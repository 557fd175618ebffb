import LoupeTensor
import LoupeTestSupport
import XCTest

/// The block kernels of Concat and Gather (and Gather's adjoint) and the reductions against
/// their per-element references (Movement+Naive.swift), on random shapes and axes.
final class MovementKernelTests: XCTestCase {
    var rng = SeededRandom(seed: 0xC0FFEE)

    func randomTensor(_ shape: [Int]) -> Tensor { rng.tensor(shape) }
    func int(in r: ClosedRange<Int>) -> Int { r.lowerBound + Int(rng.next() % UInt64(r.count)) }
    func randomShape(rank: Int) -> [Int] { (0..<rank).map { _ in int(in: 1...4) } }

    func testConcatMatchesNaive() throws {
        for trial in 0..<40 {
            let rank = int(in: 1...4), a = int(in: 0...(rank - 1))
            let base = randomShape(rank: rank)
            let xs = (0..<int(in: 1...3)).map { _ -> Tensor in
                var s = base
                s[a] = int(in: 0...3)
                return randomTensor(s)
            }
            var shape = base
            shape[a] = xs.reduce(0) { $0 + $1.shape[a] }
            let got = try Movement.concat(xs, axis: a, shape: shape)
            XCTAssertEqual(got.floats, Movement.concatNaive(xs, axis: a, shape: shape).floats, "trial \(trial): \(xs.map(\.shape)) axis \(a)")
        }
    }

    func testGatherAndScatterBlocksMatchNaive() throws {
        for trial in 0..<40 {
            let rank = int(in: 1...4), a = int(in: 0...(rank - 1))
            let x = randomTensor(randomShape(rank: rank))
            let idx = (0..<int(in: 1...5)).map { _ in int(in: 0...(x.shape[a] - 1)) }
            var shape = x.shape
            shape[a] = idx.count
            let got = try Movement.gatherBlocks(x, indices: idx, axis: a, shape: shape)
            XCTAssertEqual(got.floats, Movement.gatherBlocksNaive(x, indices: idx, axis: a).floats, "trial \(trial)")
            let g = randomTensor(shape)
            let back = try Movement.scatterBlocks(g, indices: idx, into: x.shape, axis: a)
            let want = Movement.scatterBlocksNaive(g, indices: idx, into: x.shape, axis: a)
            for (u, v) in zip(back.floats, want.floats) { XCTAssertEqual(u, v, accuracy: 1e-6, "trial \(trial)") }
        }
    }

    func testReductionsMatchNaive() throws {
        let kinds: [ReduceKind] = [.sum, .mean, .max, .min, .prod, .l1, .l2, .logSumExp, .sumSquare]
        for trial in 0..<30 {
            let rank = int(in: 1...4)
            let x = randomTensor(randomShape(rank: rank))
            let axes = (0..<rank).filter { _ in int(in: 0...1) == 1 }
            for kind in kinds {
                let got = try reduce(x, axes: axes, kind: kind), want = reduceNaive(x, axes: axes, kind: kind)
                XCTAssertEqual(got.shape, want.shape)
                for (u, v) in zip(got.floats, want.floats) {
                    XCTAssertEqual(u, v, accuracy: 1e-6 * max(1, abs(v)), "trial \(trial) \(kind) axes \(axes) of \(x.shape)")
                }
            }
        }
    }
}
