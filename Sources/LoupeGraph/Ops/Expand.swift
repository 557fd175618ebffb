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
}
