import Foundation

// Per-element references for the block kernels of Concat and Gather (and Gather's adjoint),
// and for the reductions: each output element from its multi-index, the algorithmic
// reference the fast kernels are tested against (Tests/LoupeTensorTests/MovementKernelTests).

extension Movement {
    /// The multi-index of flat position `i` in a row-major `shape`.
    static func multiIndex(_ i: Int, _ shape: [Int]) -> [Int] {
        var idx = [Int](repeating: 0, count: shape.count), r = i
        for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] > 0 {
            idx[d] = r % shape[d]
            r /= shape[d]
        }
        return idx
    }

    /// The flat position of `idx` in a row-major `shape`.
    static func flatIndex(_ idx: [Int], _ shape: [Int]) -> Int {
        zip(idx, shape).reduce(0) { $0 * $1.1 + $1.0 }
    }

    /// Reference for `concat` (float data): out[…, j, …] from the input whose range of axis
    /// `a` holds j.
    public static func concatNaive(_ xs: [Tensor], axis a: Int, shape: [Int]) -> Tensor {
        let n = shape.reduce(1, *)
        var out = [Float](repeating: 0, count: n)
        for i in 0..<n {
            var idx = multiIndex(i, shape)
            var k = 0
            while idx[a] >= xs[k].shape[a] { idx[a] -= xs[k].shape[a]; k += 1 }
            out[i] = xs[k].floats[flatIndex(idx, xs[k].shape)]
        }
        return Tensor(shape: shape, floats: out)
    }

    /// Reference for `gatherBlocks` (float data, one-dimensional indices): out[o…, k, i…] =
    /// x[o…, idx[k], i…].
    public static func gatherBlocksNaive(_ x: Tensor, indices idx: [Int], axis a: Int) -> Tensor {
        var shape = x.shape
        shape[a] = idx.count
        let n = shape.reduce(1, *)
        var out = [Float](repeating: 0, count: n)
        for i in 0..<n {
            var m = multiIndex(i, shape)
            m[a] = idx[m[a]]
            out[i] = x.floats[flatIndex(m, x.shape)]
        }
        return Tensor(shape: shape, floats: out)
    }

    /// Reference for `scatterBlocks`: dx[o…, idx[k], i…] += g[o…, k, i…].
    public static func scatterBlocksNaive(_ g: Tensor, indices idx: [Int], into shape: [Int], axis a: Int) -> Tensor {
        var out = [Float](repeating: 0, count: shape.reduce(1, *))
        for i in 0..<g.count {
            var m = multiIndex(i, g.shape)
            m[a] = idx[m[a]]
            out[flatIndex(m, shape)] += g.floats[i]
        }
        return Tensor(shape: shape, floats: out)
    }
}

/// Reference for `reduce` on float data: each output element (keepdims shape) from the
/// elements of its group, visited in row-major order, accumulated in Double.
public func reduceNaive(_ x: Tensor, axes: [Int], kind: ReduceKind) -> Tensor {
    var kept = x.shape
    for a in axes { kept[a] = 1 }
    var groups = [[Double]](repeating: [], count: kept.reduce(1, *))
    for i in 0..<x.count {
        var m = Movement.multiIndex(i, x.shape)
        for a in axes { m[a] = 0 }
        groups[Movement.flatIndex(m, kept)].append(Double(x.floats[i]))
    }
    let out = groups.map { v -> Float in
        switch kind {
        case .sum: return Float(v.reduce(0, +))
        case .mean: return Float(v.reduce(0, +) / Double(v.count))
        case .max: return Float(v.max() ?? -.infinity)
        case .min: return Float(v.min() ?? .infinity)
        case .prod: return Float(v.reduce(1, *))
        case .l1: return Float(v.reduce(0) { $0 + abs($1) })
        case .l2: return Float(v.reduce(0) { $0 + $1 * $1 }.squareRoot())
        case .sumSquare: return Float(v.reduce(0) { $0 + $1 * $1 })
        case .logSumExp:
            let m = v.max() ?? 0
            return Float(m + Foundation.log(v.reduce(0) { $0 + Foundation.exp($1 - m) }))
        }
    }
    return Tensor(shape: kept, floats: out)
}
