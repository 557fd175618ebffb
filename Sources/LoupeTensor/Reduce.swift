import Foundation

// Reductions over axes (the Reduce* family) and ArgMax / ArgMin, on flat row-major buffers.

/// What a reduction computes over each group (ONNX's Reduce* family).
public enum ReduceKind: Sendable {
    case sum, mean, max, min, prod, l1, l2, logSumExp, sumSquare
}

// MARK: - Reduce kernel

/// Reduces `x` over the sorted, normalised `axes`; the result has the keepdims shape (reduced
/// axes of size 1) and x's dtype. Float data accumulates in Double; integers wrap in Int64
/// (Mean truncates like C; L2 and LogSumExp on integers are computed in floating point and
/// truncated). A reduction over zero elements gives the identity: 0, 1 for Prod, -inf / +inf
/// for Max / Min (the dtype's limits for integers), NaN for Mean.
public func reduce(_ x: Tensor, axes: [Int], kind: ReduceKind) throws -> Tensor {
    var kept = x.shape
    for a in axes { kept[a] = 1 }
    let outCount = try Tensor.checkedCount(kept)
    let groupSize = axes.reduce(1) { $0 * x.shape[$1] }
    let inStrides = contiguousStrides(x.shape)
    let outStrides = broadcastStrides(kept, to: x.shape)

    if !x.isFloat && kind != .l2 && kind != .logSumExp {
        return reduceInts(x, kept, outCount, groupSize, inStrides, outStrides, kind)
    }
    let xf = asFloatTensor(x)
    let initial: Double
    switch kind {
    case .prod: initial = 1
    case .max: initial = -.infinity
    case .min: initial = .infinity
    default: initial = 0
    }
    var acc = [Double](repeating: initial, count: outCount)
    xf.floats.withUnsafeBufferPointer { px in
        acc.withUnsafeMutableBufferPointer { pacc in
            switch kind {
            case .sum, .mean: accumulate(px, x.shape, inStrides, outStrides, pacc) { $0 + Double($1) }
            case .l1: accumulate(px, x.shape, inStrides, outStrides, pacc) { $0 + Double(abs($1)) }
            case .l2, .sumSquare:
                accumulate(px, x.shape, inStrides, outStrides, pacc) { s, v in let d = Double(v); return s + d * d }
            case .prod: accumulate(px, x.shape, inStrides, outStrides, pacc) { $0 * Double($1) }
            case .max:
                accumulate(px, x.shape, inStrides, outStrides, pacc) { m, v in let d = Double(v); return d > m || d.isNaN ? d : m }
            case .min:
                accumulate(px, x.shape, inStrides, outStrides, pacc) { m, v in let d = Double(v); return d < m || d.isNaN ? d : m }
            case .logSumExp:
                // Shift by the group maximum for stability: log Σ exp(x) = m + log Σ exp(x − m).
                var shift = [Double](repeating: -.infinity, count: outCount)
                shift.withUnsafeMutableBufferPointer { pm in
                    accumulate(px, x.shape, inStrides, outStrides, pm) { m, v in let d = Double(v); return d > m || d.isNaN ? d : m }
                    for j in 0..<outCount where !pm[j].isFinite { pm[j] = 0 }
                    let shiftBase = pm.baseAddress!
                    forEachBroadcastRun(x.shape, inStrides, outStrides) { _, ao, bo, n, da, db in
                        for i in 0..<n {
                            let j = bo + i * db
                            pacc[j] += Foundation.exp(Double(px[ao + i * da]) - shiftBase[j])
                        }
                    }
                    for j in 0..<outCount { pacc[j] = Foundation.log(pacc[j]) + pm[j] }
                }
            }
            if kind == .mean {
                let n = Double(groupSize)
                for j in 0..<outCount { pacc[j] /= n }
            } else if kind == .l2 {
                for j in 0..<outCount { pacc[j] = pacc[j].squareRoot() }
            }
        }
    }
    if !x.isFloat {
        let dt = x.dtype
        return Tensor(shape: kept, ints: acc.map { dt.wrap(truncatingInt($0)) }, dtype: dt)
    }
    var y = try Tensor(shape: kept) { out in
        for j in 0..<outCount { out[j] = Float(acc[j]) }
    }
    y.dtype = x.dtype
    return y
}

/// acc[out(i)] = step(acc[out(i)], x[i]) over every input element, where out(i) drops the
/// reduced coordinates (`outStrides` is 0 along them). A run whose output stride is 0 is
/// folded in a register first.
@inline(__always)
private func accumulate(
    _ px: UnsafeBufferPointer<Float>, _ shape: [Int], _ inStrides: [Int], _ outStrides: [Int],
    _ acc: UnsafeMutableBufferPointer<Double>, _ step: (Double, Float) -> Double
) {
    forEachBroadcastRun(shape, inStrides, outStrides) { _, ao, bo, n, da, db in
        if db == 0 {
            var s = acc[bo]
            if da == 1 {
                for i in 0..<n { s = step(s, px[ao + i]) }
            } else {
                for i in 0..<n { s = step(s, px[ao + i * da]) }
            }
            acc[bo] = s
        } else {
            for i in 0..<n { acc[bo + i * db] = step(acc[bo + i * db], px[ao + i * da]) }
        }
    }
}

/// The integer path of `reduce` (Sum, Mean, Max, Min, Prod, L1, SumSquare), wrapping in Int64.
private func reduceInts(
    _ x: Tensor, _ kept: [Int], _ outCount: Int, _ groupSize: Int,
    _ inStrides: [Int], _ outStrides: [Int], _ kind: ReduceKind
) -> Tensor {
    let dt = x.dtype
    // Max/Min compare order keys (see `orderKey`), so uint64 orders correctly.
    let initial: Int64
    switch kind {
    case .prod: initial = 1
    case .max: initial = Int64.min
    case .min: initial = Int64.max
    default: initial = 0
    }
    var acc = [Int64](repeating: initial, count: outCount)
    x.ints.withUnsafeBufferPointer { px in
        acc.withUnsafeMutableBufferPointer { pacc in
            forEachBroadcastRun(x.shape, inStrides, outStrides) { _, ao, bo, n, da, db in
                for i in 0..<n {
                    let v = px[ao + i * da]
                    let j = bo + i * db
                    switch kind {
                    case .sum, .mean: pacc[j] &+= v
                    case .l1: pacc[j] &+= (v < 0 && dt != .uint64 ? 0 &- v : v)
                    case .sumSquare: pacc[j] &+= v &* v
                    case .prod: pacc[j] &*= v
                    case .max: pacc[j] = max(pacc[j], orderKey(v, dt))
                    case .min: pacc[j] = min(pacc[j], orderKey(v, dt))
                    case .l2, .logSumExp: break
                    }
                }
            }
            if kind == .max || kind == .min {
                for j in 0..<outCount { pacc[j] = orderKey(pacc[j], dt) }
            } else if kind == .mean {
                let n = Int64(groupSize)
                for j in 0..<outCount { pacc[j] = n == 0 ? 0 : pacc[j] / n }
            }
        }
    }
    return Tensor(shape: kept, ints: acc.map { dt.wrap($0) }, dtype: dt)
}

// MARK: - ArgMax / ArgMin

/// Index of the largest (`largest`) or smallest element along `axis`, as int64. Ties go to the
/// first index, or the last with `selectLast`; a NaN wins over numbers (as NumPy's argmax).
public func argExtreme(_ x: Tensor, axis: Int, keepdims: Bool, selectLast: Bool, largest: Bool, op: String) throws -> Tensor {
    let ax = try normalizeAxis(axis, rank: x.rank, what: "\(op) axis")
    guard x.rank > 0 else { throw LoupeError.shape("\(op): input is a scalar; an axis is needed") }
    let n = x.shape[ax]
    let outer = x.shape[..<ax].reduce(1, *), inner = x.shape[(ax + 1)...].reduce(1, *)
    var outShape = x.shape
    if keepdims { outShape[ax] = 1 } else { outShape.remove(at: ax) }
    guard n > 0 || outer * inner == 0 else {
        throw LoupeError.shape("\(op): axis \(axis) of \(describe(x.shape)) is empty")
    }
    let dt = x.dtype
    var result = [Int64](repeating: 0, count: outer * inner)
    if x.isFloat {
        x.floats.withUnsafeBufferPointer { px in
            for o in 0..<outer {
                for i in 0..<inner {
                    var best = px[o * n * inner + i], bestK = 0
                    for k in 1..<max(n, 1) {
                        let v = px[(o * n + k) * inner + i]
                        if best.isNaN && !selectLast { break }
                        let better: Bool
                        if v.isNaN { better = !best.isNaN || selectLast }
                        else if best.isNaN { better = false }
                        else if largest { better = selectLast ? v >= best : v > best }
                        else { better = selectLast ? v <= best : v < best }
                        if better { best = v; bestK = k }
                    }
                    result[o * inner + i] = Int64(bestK)
                }
            }
        }
    } else {
        // Integers: compare exactly (Float loses precision above 2^24).
        x.ints.withUnsafeBufferPointer { px in
            for o in 0..<outer {
                for i in 0..<inner {
                    var best = orderKey(px[o * n * inner + i], dt), bestK = 0
                    for k in 1..<max(n, 1) {
                        let v = orderKey(px[(o * n + k) * inner + i], dt)
                        let better = largest ? (selectLast ? v >= best : v > best) : (selectLast ? v <= best : v < best)
                        if better { best = v; bestK = k }
                    }
                    result[o * inner + i] = Int64(bestK)
                }
            }
        }
    }
    return Tensor(shape: outShape, ints: result, dtype: .int64)
}

