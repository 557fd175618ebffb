/// NumPy-style (multidirectional) broadcasting, as ONNX defines it for Add, Mul, Max, ...

/// The broadcast shape of `a` and `b`, or an error naming both shapes.
public func broadcastShape(_ a: [Int], _ b: [Int]) throws -> [Int] {
    let r = max(a.count, b.count)
    var out = [Int](repeating: 1, count: r)
    for i in 0..<r {
        let da = i < r - a.count ? 1 : a[i - (r - a.count)]
        let db = i < r - b.count ? 1 : b[i - (r - b.count)]
        if da == db || db == 1 {
            out[i] = da
        } else if da == 1 {
            out[i] = db
        } else {
            throw LoupeError.shape("cannot broadcast shapes \(describe(a)) and \(describe(b))")
        }
    }
    return out
}

/// Strides of `shape` seen through broadcasting to `out` (0 along broadcast dimensions).
public func broadcastStrides(_ shape: [Int], to out: [Int]) -> [Int] {
    let pad = out.count - shape.count
    let s = contiguousStrides(shape)
    return (0..<out.count).map { i in
        i < pad || shape[i - pad] == 1 ? 0 : s[i - pad]
    }
}

/// Walks the broadcast of two operands: calls `body(outOffset, aOffset, bOffset, n, aStep, bStep)`
/// for each contiguous run of the last (coalesced) dimension.
@inlinable @inline(__always)
public func forEachBroadcastRun(
    _ out: [Int], _ aStrides: [Int], _ bStrides: [Int],
    _ body: (Int, Int, Int, Int, Int, Int) -> Void
) {
    // Coalesce dimensions that are contiguous in both operands.
    var dims: [Int] = []
    var sa: [Int] = []
    var sb: [Int] = []
    for i in 0..<out.count where out[i] != 1 {
        if let last = dims.last, sa.last! == aStrides[i] * out[i], sb.last! == bStrides[i] * out[i] {
            dims[dims.count - 1] = last * out[i]
            sa[sa.count - 1] = aStrides[i]
            sb[sb.count - 1] = bStrides[i]
        } else {
            dims.append(out[i]); sa.append(aStrides[i]); sb.append(bStrides[i])
        }
    }
    if out.contains(0) { return }
    if dims.isEmpty { body(0, 0, 0, 1, 0, 0); return }
    let r = dims.count
    let inner = dims[r - 1]
    var idx = [Int](repeating: 0, count: r)
    var o = 0, ao = 0, bo = 0
    while true {
        body(o, ao, bo, inner, sa[r - 1], sb[r - 1])
        o += inner
        var d = r - 2
        while d >= 0 {
            idx[d] += 1
            ao += sa[d]; bo += sb[d]
            if idx[d] < dims[d] { break }
            ao -= sa[d] * dims[d]; bo -= sb[d] * dims[d]
            idx[d] = 0
            d -= 1
        }
        if d < 0 { return }
    }
}

/// Element-wise binary op over float tensors with broadcasting.
@inlinable @inline(__always)
public func broadcastFloat(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) throws -> Tensor {
    let shape = try broadcastShape(a.shape, b.shape)
    let sa = broadcastStrides(a.shape, to: shape), sb = broadcastStrides(b.shape, to: shape)
    return try a.floats.withUnsafeBufferPointer { pa in
        try b.floats.withUnsafeBufferPointer { pb in
            try Tensor(shape: shape) { out in
                // Plain pointers held in locals: the loops below then vectorise (buffer
                // pointers captured by the nested closures were reloaded on every element).
                let x = pa.baseAddress, y = pb.baseAddress, z = out.baseAddress
                guard let x, let y, let z else { return }
                if sa == sb && a.shape == b.shape {
                    for i in 0..<out.count { z[i] = f(x[i], y[i]) }
                    return
                }
                forEachBroadcastRun(shape, sa, sb) { o, ao, bo, n, da, db in
                    let xs = x + ao, ys = y + bo, zs = z + o
                    if da == 1 && db == 1 {
                        for i in 0..<n { zs[i] = f(xs[i], ys[i]) }
                    } else if da == 1 && db == 0 {
                        let v = ys[0]
                        for i in 0..<n { zs[i] = f(xs[i], v) }
                    } else if da == 0 && db == 1 {
                        let u = xs[0]
                        for i in 0..<n { zs[i] = f(u, ys[i]) }
                    } else {
                        for i in 0..<n { zs[i] = f(xs[i * da], ys[i * db]) }
                    }
                }
            }
        }
    }
}

/// Element-wise binary op over integer tensors with broadcasting; result dtype `dtype`.
@inlinable @inline(__always)
public func broadcastInt(_ a: Tensor, _ b: Tensor, dtype: DType, _ f: (Int64, Int64) -> Int64) throws -> Tensor {
    let shape = try broadcastShape(a.shape, b.shape)
    try Tensor.checkedCount(shape)
    let sa = broadcastStrides(a.shape, to: shape), sb = broadcastStrides(b.shape, to: shape)
    var out = [Int64](repeating: 0, count: shape.reduce(1, *))
    a.ints.withUnsafeBufferPointer { pa in
        b.ints.withUnsafeBufferPointer { pb in
            out.withUnsafeMutableBufferPointer { po in
                forEachBroadcastRun(shape, sa, sb) { o, ao, bo, n, da, db in
                    for i in 0..<n { po[o + i] = dtype.wrap(f(pa[ao + i * da], pb[bo + i * db])) }
                }
            }
        }
    }
    return Tensor(shape: shape, ints: out, dtype: dtype)
}

/// Materialises `t` broadcast to `shape` (for Expand).
public func broadcastTo(_ t: Tensor, _ shape: [Int]) throws -> Tensor {
    let full = try broadcastShape(t.shape, shape)
    if t.isFloat {
        let z = try Tensor(zeros: full)
        var r = try broadcastFloat(t, z) { x, _ in x }
        r.dtype = t.dtype
        return r
    }
    return try broadcastInt(t, Tensor(shape: full, ints: [Int64](repeating: 0, count: try Tensor.checkedCount(full))), dtype: t.dtype) { x, _ in x }
}

/// The gradient of a broadcast operand: sums `grad` (of the broadcast shape) over the
/// dimensions along which an operand of `shape` was broadcast, returning `shape`.
public func reduceToShape(_ grad: Tensor, _ shape: [Int]) throws -> Tensor {
    if grad.shape == shape { return grad }
    let out = grad.shape
    guard out.count >= shape.count else {
        throw LoupeError.shape("cannot reduce gradient \(describe(out)) to \(describe(shape))")
    }
    let strides = broadcastStrides(shape, to: out)
    var result = [Float](repeating: 0, count: try Tensor.checkedCount(shape))
    let zeros = [Int](repeating: 0, count: out.count)
    grad.floats.withUnsafeBufferPointer { g in
        result.withUnsafeMutableBufferPointer { r in
            // Walk the gradient with the operand's strides as "a" (0 on broadcast dims).
            forEachBroadcastRun(out, strides, zeros) { o, ro, _, n, rstep, _ in
                if rstep == 0 {
                    var s: Float = 0
                    for i in 0..<n { s += g[o + i] }
                    r[ro] += s
                } else {
                    for i in 0..<n { r[ro + i * rstep] += g[o + i] }
                }
            }
        }
    }
    return Tensor(shape: shape, floats: result)
}

// MARK: - Three-way broadcast (Where)

/// Calls `body(outIndex, i0, i1, i2)` for every element of `shape`, with the flat indices of
/// three operands broadcast to it. Row-major order; the last dimension is the inner loop.
@inlinable
public func forEachBroadcast3(
    _ shape: [Int], _ s0: [Int], _ s1: [Int], _ s2: [Int],
    _ body: (Int, Int, Int, Int) -> Void
) {
    if shape.contains(0) { return }
    let r = shape.count
    if r == 0 { body(0, 0, 0, 0); return }
    let inner = shape[r - 1], d0 = s0[r - 1], d1 = s1[r - 1], d2 = s2[r - 1]
    var idx = [Int](repeating: 0, count: r)
    var o = 0, i0 = 0, i1 = 0, i2 = 0
    while true {
        for k in 0..<inner { body(o + k, i0 + k * d0, i1 + k * d1, i2 + k * d2) }
        o += inner
        var d = r - 2
        while d >= 0 {
            idx[d] += 1
            i0 += s0[d]; i1 += s1[d]; i2 += s2[d]
            if idx[d] < shape[d] { break }
            i0 -= s0[d] * shape[d]; i1 -= s1[d] * shape[d]; i2 -= s2[d] * shape[d]
            idx[d] = 0
            d -= 1
        }
        if d < 0 { return }
    }
}
