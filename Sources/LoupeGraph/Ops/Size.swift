import LoupeTensor

/// Size: the input's element count as an int64 scalar.
public struct Size: Operator {
    public static let opType = "Size"
    public init(_ context: OpContext) throws {}

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        _ = try required(inputs, 0)
        return [TensorType(.int64, [])]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        [Tensor.scalar(int: Int64(try required(inputs, 0).count))]
    }

    /// Backward: the output is the input's element count, an integer: no gradient flows.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        [Tensor?](repeating: nil, count: inputs.count)
    }
}
