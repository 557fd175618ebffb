// Scalar conversions between the storage types, as C casts do but without trapping, and the
// integer order of a dtype.

// MARK: - Integer ordering

/// Maps a stored value to a key whose signed order is the dtype's order: uint64 values above
/// Int64.max are stored with the sign bit set, so flip that bit for them.
@inlinable @inline(__always)
public func orderKey(_ v: Int64, _ dtype: DType) -> Int64 { dtype == .uint64 ? v ^ Int64.min : v }

// MARK: - Scalar conversions

/// Float to Int64 truncating toward zero, as a C cast does, without trapping: NaN gives 0 and
/// values outside Int64's range saturate.
@inlinable @inline(__always)
public func truncatingInt(_ x: Float) -> Int64 {
    if x.isNaN { return 0 }
    if x >= 9223372036854775808.0 { return Int64.max }
    if x < -9223372036854775808.0 { return Int64.min }
    return Int64(x)
}

/// Double to Int64 truncating toward zero, without trapping (see `truncatingInt(_: Float)`).
@inlinable @inline(__always)
public func truncatingInt(_ x: Double) -> Int64 {
    if x.isNaN { return 0 }
    if x >= 9223372036854775808.0 { return Int64.max }
    if x < -9223372036854775808.0 { return Int64.min }
    return Int64(x)
}

/// A stored integer of `dtype` as Float (uint64 read unsigned).
@inlinable @inline(__always)
public func floatOf(_ v: Int64, _ dtype: DType) -> Float {
    dtype == .uint64 ? Float(UInt64(bitPattern: v)) : Float(v)
}

/// The tensor's values as a float32 tensor (integers converted).
public func asFloatTensor(_ t: Tensor) -> Tensor {
    if t.isFloat { return t }
    let dt = t.dtype
    return Tensor(shape: t.shape, floats: t.ints.map { floatOf($0, dt) })
}
