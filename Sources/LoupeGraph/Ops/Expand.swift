import LoupeTensor

/// Expand: broadcasts the input against `shape` (input 1) NumPy-style; the output shape is the
/// broadcast of both, so `shape` may also hold 1s where the input is larger.
///
/// Kernel: a strided view with stride 0 along broadcast axes (`Movement.copyStrided`).
public struct Expand: Operator {
    public static let opType = "Expand"
    public init(_ context: OpContext) throws {}

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        guard constants.count > 1, let s = constants[1] else {
            throw LoupeError.unsupported("Expand needs a constant 'shape' input")
        }
        return [TensorType(x.dtype, try broadcastShape(x.shape, try Movement.ints(s, "shape")))]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        let shape = try broadcastShape(x.shape, try Movement.ints(try required(inputs, 1), "shape"))
        if shape == x.shape { return [x] }
        return [try Movement.strided(x, shape: shape, strides: broadcastStrides(x.shape, to: shape))]
    }

    /// Backward: the output gradient summed over the broadcast axes. None for `shape`.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        guard wanted.first == true else { return Movement.onlyFirst(nil, inputs.count) }
        let x = try required(inputs, 0)
        let g = try Movement.gradient(gradients, 0, shape: outputs[0].shape)
        if g.count == 0 { return Movement.onlyFirst(try Tensor(zeros: x.shape), inputs.count) }
        return Movement.onlyFirst(try reduceToShape(g, x.shape), inputs.count)
    }
}
