import LoupeTensor

/// Gather: picks slices of `data` along `axis` (default 0) at `indices` (int32/int64, any rank,
/// negative counts from the back). Output shape: data[..<axis] + indices.shape + data[axis+1...].
///
/// Kernel: for each outer index and each index value, one block copy of Π data[axis+1...] elements.
public struct Gather: Operator {
    public static let opType = "Gather"
    let axis: Int

    public init(_ context: OpContext) throws {
        axis = try context.attributes.int("axis", 0)
    }

    func outputShape(_ data: [Int], _ indices: [Int]) throws -> (shape: [Int], axis: Int) {
        guard !data.isEmpty else { throw LoupeError.shape("Gather on a scalar") }
        let a = try normalizeAxis(axis, rank: data.count)
        return (Array(data[..<a]) + indices + Array(data[(a + 1)...]), a)
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0), i = try required(inputs, 1)
        guard !i.dtype.isFloatingPoint else { throw LoupeError.invalid("Gather indices must be integers, got \(i.dtype.name)") }
        return [TensorType(x.dtype, try outputShape(x.shape, i.shape).shape)]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0), i = try required(inputs, 1)
        let (shape, a) = try outputShape(x.shape, i.shape)
        let idx = try indices(i, x.shape, a)
        return [try Movement.gatherBlocks(x, indices: idx, axis: a, shape: shape)]
    }


    /// The index values, checked against axis `a` of `data` and made non-negative.
    func indices(_ i: Tensor, _ data: [Int], _ a: Int) throws -> [Int] {
        let n = data[a]
        return try Movement.ints(i, "indices").map { v in
            guard v >= -n, v < n else {
                throw LoupeError.shape("Gather index \(v) is out of range for axis \(a) of size \(n) (data \(describe(data)))")
            }
            return v < 0 ? v + n : v
        }
    }

    /// Backward: each selected slice's gradient is added back where it was read from
    /// (indices may repeat: their gradients add). None for the integer indices.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        guard wanted.first == true else { return Movement.onlyFirst(nil, inputs.count) }
        let x = try required(inputs, 0), i = try required(inputs, 1)
        let (shape, a) = try outputShape(x.shape, i.shape)
        let g = try Movement.gradient(gradients, 0, shape: shape)
        let dx = try Movement.scatterBlocks(g, indices: try indices(i, x.shape, a), into: x.shape, axis: a)
        return Movement.onlyFirst(dx, inputs.count)
    }
}
