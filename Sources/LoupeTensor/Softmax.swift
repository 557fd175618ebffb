import Foundation

// Softmax: the tensor kernel the Softmax and LogSoftmax ops run (float32, parallel over rows)
// and the row softmax in Double that class probabilities use (predict, explain, occlusion,
// head training), which is also the kernel's reference in the tests.

/// Softmax of one row of scores: p_i = exp(x_i − m) / Σ_j exp(x_j − m) with m = max x; the
/// difference in Float (as every caller computed it before they shared this function: the
/// CAM head's distillation targets are pinned byte for byte by the surgery fixtures), the
/// exponentials and the sum in Double.
public func softmaxDouble(_ x: [Float]) -> [Double] {
    guard var m = x.max() else { return [] }
    if m == -.infinity { m = 0 }   // all -inf: avoid -inf - -inf
    let e = x.map { Foundation.exp(Double($0 - m)) }
    let s = e.reduce(0, +)
    return e.map { $0 / s }
}

/// `softmaxDouble` rounded to Float.
public func softmax(_ x: [Float]) -> [Float] { softmaxDouble(x).map { Float($0) } }

/// Softmax (or log-softmax) of `x` viewed as [outer, n, inner], over n, with the group maximum
/// subtracted first. Rows run in parallel; each walks n with `inner` contiguous lanes.
public func softmax(_ x: Tensor, outer: Int, n: Int, inner: Int, log: Bool) throws -> Tensor {
    var y = try x.floats.withUnsafeBufferPointer { px in
        try Tensor(shape: x.shape) { py in
            let src = px.baseAddress, dst = py.baseAddress
            guard let src, let dst else { return }
            parallelFor(outer) { o in
                let xs = src + o * n * inner, ys = dst + o * n * inner
                if inner == 1 {
                    softmaxRow(xs, ys, n, log: log)
                    return
                }
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * inner) { tmp in
                    let m = tmp.baseAddress!, s = m + inner
                    for i in 0..<inner { m[i] = -.infinity; s[i] = 0 }
                    for k in 0..<n {
                        let row = xs + k * inner
                        for i in 0..<inner where row[i] > m[i] || row[i].isNaN { m[i] = row[i] }
                    }
                    for i in 0..<inner where m[i] == -.infinity { m[i] = 0 }  // all -inf: avoid -inf - -inf
                    for k in 0..<n {
                        let row = xs + k * inner, out = ys + k * inner
                        for i in 0..<inner {
                            let e = Foundation.exp(row[i] - m[i])
                            out[i] = e
                            s[i] += e
                        }
                    }
                    if log {
                        for i in 0..<inner { s[i] = Foundation.log(s[i]) + m[i] }
                        for k in 0..<n {
                            let row = xs + k * inner, out = ys + k * inner
                            for i in 0..<inner { out[i] = row[i] - s[i] }
                        }
                    } else {
                        for i in 0..<inner { s[i] = 1 / s[i] }
                        for k in 0..<n {
                            let out = ys + k * inner
                            for i in 0..<inner { out[i] *= s[i] }
                        }
                    }
                }
            }
        }
    }
    y.dtype = x.dtype
    return y
}

/// Softmax (or log-softmax) of one contiguous row of `n` values: the `inner == 1` case.
@inline(__always)
private func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, log: Bool) {
    var m = -Float.infinity
    for k in 0..<n where x[k] > m || x[k].isNaN { m = x[k] }
    if m == -.infinity { m = 0 }
    var s: Float = 0
    for k in 0..<n {
        let e = Foundation.exp(x[k] - m)
        y[k] = e
        s += e
    }
    if log {
        let shift = Foundation.log(s) + m
        for k in 0..<n { y[k] = x[k] - shift }
    } else {
        let r = 1 / s
        for k in 0..<n { y[k] *= r }
    }
}
