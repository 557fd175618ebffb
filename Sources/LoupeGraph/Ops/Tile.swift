import LoupeTensor

/// Tile: repeats the input `repeats[d]` times along each axis d (input 1, int64 of the input's
/// rank). Opset 1 instead takes scalar inputs `tiles` and `axis` (repeat along one axis).
///
/// Kernel: the output seen as [r0, d0, r1, d1, …] with stride 0 on each r — one strided copy.
public struct Tile: Operator {
    public static let opType = "Tile"
    public init(_ context: OpContext) throws {}

    func repeats(_ shape: [Int], _ values: [Tensor?]) throws -> [Int] {
        guard values.count > 1, let r = values[1] else {
            throw LoupeError.unsupported("Tile needs a constant 'repeats' input")
        }
        var reps = try Movement.ints(r, "repeats")
        if values.count > 2, let a = values[2] {
            guard reps.count == 1, a.count == 1 else { throw LoupeError.invalid("Tile (opset 1) tiles and axis must be scalars") }
            let axis = try normalizeAxis(try Movement.ints(a, "axis")[0], rank: shape.count)
            reps = (0..<shape.count).map { $0 == axis ? reps[0] : 1 }
        }
        guard reps.count == shape.count, reps.allSatisfy({ $0 >= 0 }) else {
            throw LoupeError.invalid("Tile repeats \(reps) do not fit input \(describe(shape))")
        }
        return reps
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        let reps = try repeats(x.shape, constants)
        return [TensorType(x.dtype, zip(x.shape, reps).map(*))]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        let reps = try repeats(x.shape, inputs)
        let out = zip(x.shape, reps).map(*)
        try Tensor.checkedCount(out)
        let s = contiguousStrides(x.shape)
        var viewShape: [Int] = [], viewStrides: [Int] = []
        for d in 0..<x.rank {
            viewShape += [reps[d], x.shape[d]]
            viewStrides += [0, s[d]]
        }
        var t = try Movement.strided(x, shape: viewShape, strides: viewStrides)
        t.shape = out
        return [t]
    }

    /// Backward: the sum of the output gradient over the tiles — the gradient seen as
    /// [r0, d0, r1, d1, …] summed over every r. None for `repeats` (and opset 1's `axis`).
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        guard wanted.first == true else { return Movement.onlyFirst(nil, inputs.count) }
        let x = try required(inputs, 0)
        let reps = try repeats(x.shape, inputs)
        let g = try Movement.gradient(gradients, 0, shape: zip(x.shape, reps).map(*))
        if g.count == 0 { return Movement.onlyFirst(try Tensor(zeros: x.shape), inputs.count) }
        let s = contiguousStrides(x.shape)
        var viewShape: [Int] = [], viewStrides: [Int] = []
        for d in 0..<x.rank {
            viewShape += [reps[d], x.shape[d]]
            viewStrides += [0, s[d]]
        }
        let dx = try Movement.stridedAdjoint(g.reshaped(viewShape), into: x.shape, strides: viewStrides)
        return Movement.onlyFirst(dx, inputs.count)
    }
}
