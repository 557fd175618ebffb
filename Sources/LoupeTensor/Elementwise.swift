/// Element-wise map over a float tensor: out[i] = f(x[i]).
@inlinable @inline(__always)
public func mapFloat(_ x: Tensor, _ f: (Float) -> Float) throws -> Tensor {
    var out = try x.floats.withUnsafeBufferPointer { px in
        try Tensor(shape: x.shape) { po in
            for i in 0..<px.count { po[i] = f(px[i]) }
        }
    }
    out.dtype = x.dtype
    return out
}

/// Element-wise map over an integer tensor, result wrapped to `dtype`.
@inlinable @inline(__always)
public func mapInt(_ x: Tensor, dtype: DType? = nil, _ f: (Int64) -> Int64) -> Tensor {
    let dt = dtype ?? x.dtype
    return Tensor(shape: x.shape, ints: x.ints.map { dt.wrap(f($0)) }, dtype: dt)
}
