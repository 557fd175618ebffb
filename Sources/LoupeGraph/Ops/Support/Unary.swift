import LoupeTensor

// Shared pieces of the element-wise ops (Sqrt, Sigmoid, Abs, Equal, Where, Sum, ...):
// type inference, float/int maps specialised inside this module, the bool-producing
// broadcast compare, the variadic fold and the three-way broadcast walk of Where.

// MARK: - Type inference

/// Output type equal to input 0's type (Identity, Abs, Clip, ...).
func inferSame(_ inputs: [TensorType?], _ op: String) throws -> [TensorType] {
    guard let x = inputs.first ?? nil else { throw LoupeError.invalid("\(op): required input 0 is missing") }
    return [x]
}

/// Output type equal to input 0's type, which must be floating point.
func inferSameFloat(_ inputs: [TensorType?], _ op: String) throws -> [TensorType] {
    let t = try inferSame(inputs, op)
    guard t[0].dtype.isFloatingPoint else {
        throw LoupeError.unsupported("\(op): input of dtype \(t[0].dtype.name) \(describe(t[0].shape)); only float tensors are supported")
    }
    return t
}

/// Broadcast shape of every present input, which must share one dtype (Sum, Max, Where's X/Y, ...).
func inferVariadic(_ inputs: [TensorType?], _ op: String) throws -> TensorType {
    let present = inputs.compactMap { $0 }
    guard let first = present.first, present.count == inputs.count else {
        throw LoupeError.invalid("\(op): needs at least one input and no omitted inputs")
    }
    var shape = first.shape
    for t in present.dropFirst() {
        guard t.dtype == first.dtype else {
            throw LoupeError.shape("\(op): input dtypes differ: \(first.dtype.name) and \(t.dtype.name)")
        }
        shape = try broadcastShape(shape, t.shape)
    }
    return TensorType(first.dtype, shape)
}

// MARK: - Maps

// Element-wise maps are LoupeTensor's `mapFloat` and `mapInt` (inlinable, so `f` inlines
// into the loop here).

/// An op computing Y = f(X) element by element on float tensors: conformers give `apply`
/// and get shape inference and the forward loop.
public protocol FloatUnaryOperator: Operator {
    func apply(_ x: Float) -> Float
}

extension FloatUnaryOperator {
    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        try inferSameFloat(inputs, Self.opType)
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        [try mapFloat(try float(inputs, 0)) { apply($0) }]
    }
}

// MARK: - Comparisons and logic (bool outputs)

/// Broadcasting comparison producing a bool tensor. Both inputs must have one dtype; integer
/// inputs are compared in their dtype's order (uint64 included).
@inline(__always)
func broadcastCompare(
    _ inputs: [Tensor?], _ legacy: LegacyBroadcast, _ op: String,
    float f: (Float, Float) -> Bool, int g: (Int64, Int64) -> Bool
) throws -> Tensor {
    guard inputs.count == 2, let a = inputs[0], var b = inputs[1] else {
        throw LoupeError.invalid("\(op): needs two inputs")
    }
    b.shape = try legacy.align(a.shape, b.shape)
    guard a.isFloat == b.isFloat else {
        throw LoupeError.shape("\(op): input dtypes differ: \(a.dtype.name) \(describe(a.shape)) and \(b.dtype.name) \(describe(b.shape))")
    }
    let shape = try broadcastShape(a.shape, b.shape)
    let n = try Tensor.checkedCount(shape)
    let sa = broadcastStrides(a.shape, to: shape), sb = broadcastStrides(b.shape, to: shape)
    var out = [Int64](repeating: 0, count: n)
    out.withUnsafeMutableBufferPointer { po in
        if a.isFloat {
            a.floats.withUnsafeBufferPointer { pa in
                b.floats.withUnsafeBufferPointer { pb in
                    forEachBroadcastRun(shape, sa, sb) { o, ao, bo, n, da, db in
                        for i in 0..<n { po[o + i] = f(pa[ao + i * da], pb[bo + i * db]) ? 1 : 0 }
                    }
                }
            }
        } else {
            let dt = a.dtype
            a.ints.withUnsafeBufferPointer { pa in
                b.ints.withUnsafeBufferPointer { pb in
                    forEachBroadcastRun(shape, sa, sb) { o, ao, bo, n, da, db in
                        for i in 0..<n {
                            po[o + i] = g(orderKey(pa[ao + i * da], dt), orderKey(pb[bo + i * db], dt)) ? 1 : 0
                        }
                    }
                }
            }
        }
    }
    return Tensor(shape: shape, ints: out, dtype: .bool)
}

/// Input `i` as truth values (bool, or any integer read as nonzero = true).
func truthValues(_ inputs: [Tensor?], _ i: Int, _ op: String) throws -> Tensor {
    guard i < inputs.count, let t = inputs[i] else { throw LoupeError.invalid("\(op): required input \(i) is missing") }
    guard !t.isFloat else {
        throw LoupeError.unsupported("\(op): input \(i) has dtype \(t.dtype.name) \(describe(t.shape)); expected bool")
    }
    return t
}

/// Type inference for ops producing bool of the broadcast shape (Equal, Less, And, ...).
func inferCompare(_ inputs: [TensorType?], _ legacy: LegacyBroadcast, _ op: String) throws -> [TensorType] {
    do {
        return try inferBinary(inputs, legacy, resultType: .bool)
    } catch let e as LoupeError {
        throw e.context(op)
    }
}

// MARK: - Variadic (Sum, Max, Min, Mean)

/// Folds a broadcasting binary function over every input, left to right. All inputs must share
/// one dtype; `int` nil means integer inputs are refused.
@inline(__always)
func variadic(
    _ inputs: [Tensor?], _ op: String,
    float f: (Float, Float) -> Float, int g: ((Int64, Int64) -> Int64)?
) throws -> Tensor {
    let present = inputs.compactMap { $0 }
    guard var acc = present.first, present.count == inputs.count else {
        throw LoupeError.invalid("\(op): needs at least one input and no omitted inputs")
    }
    for t in present.dropFirst() {
        guard t.dtype == acc.dtype else {
            throw LoupeError.shape("\(op): input dtypes differ: \(acc.dtype.name) and \(t.dtype.name)")
        }
    }
    if acc.isFloat {
        for t in present.dropFirst() {
            let dt = acc.dtype
            acc = try broadcastFloat(acc, t, f)
            acc.dtype = dt
        }
    } else {
        guard let g else {
            throw LoupeError.unsupported("\(op): inputs of dtype \(acc.dtype.name); only float tensors are supported")
        }
        for t in present.dropFirst() { acc = try broadcastInt(acc, t, dtype: acc.dtype, g) }
    }
    return acc
}
