import LoupeTensor

/// Opset 1–6 broadcasting for binary ops: with `broadcast=1`, B's shape lines up with A's
/// starting at `axis` (default: trailing alignment, as in NumPy). Opset 7+ ignores it.
public struct LegacyBroadcast: Sendable {
    var axis: Int?
    public init(_ context: OpContext) throws {
        let a = context.attributes
        if context.opset < 7, try a.int("broadcast", 0) == 1 {
            axis = try a.int("axis")
        }
    }

    /// B's shape rewritten so that NumPy broadcasting gives the legacy result.
    func align(_ a: [Int], _ b: [Int]) throws -> [Int] {
        guard let axis else { return b }
        let ax = axis < 0 ? axis + a.count : axis
        guard ax >= 0, ax + b.count <= a.count else {
            throw LoupeError.shape("legacy broadcast of \(describe(b)) into \(describe(a)) at axis \(axis) does not fit")
        }
        return b + [Int](repeating: 1, count: a.count - ax - b.count)
    }
}

/// Output type of a broadcasting binary op whose result has the inputs' dtype.
public func inferBinary(_ inputs: [TensorType?], _ legacy: LegacyBroadcast, resultType: DType? = nil) throws -> [TensorType] {
    guard inputs.count == 2, let a = inputs[0], let b = inputs[1] else {
        throw LoupeError.invalid("binary op needs two inputs")
    }
    guard a.dtype == b.dtype else {
        throw LoupeError.shape("input dtypes differ: \(a.dtype.name) and \(b.dtype.name)")
    }
    return [TensorType(resultType ?? a.dtype, try broadcastShape(a.shape, try legacy.align(a.shape, b.shape)))]
}

/// Runs a broadcasting binary op on float or integer inputs.
@inline(__always)
public func binary(
    _ inputs: [Tensor?], _ legacy: LegacyBroadcast,
    float f: (Float, Float) -> Float, int g: (Int64, Int64) -> Int64
) throws -> [Tensor] {
    guard inputs.count == 2, let a = inputs[0], var b = inputs[1] else {
        throw LoupeError.invalid("binary op needs two inputs")
    }
    b.shape = try legacy.align(a.shape, b.shape)
    guard a.dtype == b.dtype else {
        throw LoupeError.shape("input dtypes differ: \(a.dtype.name) and \(b.dtype.name)")
    }
    if a.isFloat {
        var r = try broadcastFloat(a, b, f)
        r.dtype = a.dtype
        return [r]
    }
    return [try broadcastInt(a, b, dtype: a.dtype, g)]
}
