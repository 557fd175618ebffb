/// Element-wise map over a float tensor: out[i] = f(x[i]). One thread: on 2 cores, spreading
/// these memory-bound loops over threads made ResNet-50 saliency and Grad-CAM 10-50 % slower
/// (their threads woke while oneDNN's OpenMP workers still spun after a convolution).
@inlinable @inline(__always)
public func mapFloat(_ x: Tensor, _ f: (Float) -> Float) throws -> Tensor {
    var out = try x.floats.withUnsafeBufferPointer { px in
        try Tensor(shape: x.shape) { po in
            guard let src = px.baseAddress, let dst = po.baseAddress else { return }
            for i in 0..<px.count { dst[i] = f(src[i]) }
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
