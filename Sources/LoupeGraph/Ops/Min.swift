import LoupeTensor

/// Min: element-wise minimum of any number of inputs, with broadcasting (opset 8+); float and
/// (opset 12+) integer tensors. A NaN operand gives NaN.
public struct Min: Operator {
    public static let opType = "Min"
    public init(_ context: OpContext) throws {}

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        [try inferVariadic(inputs, Self.opType)]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let key: DType = inputs.first??.dtype == .uint64 ? .uint64 : .int64
        return [try variadic(inputs, Self.opType,
                             float: { a, b in a < b || a.isNaN ? a : b },
                             int: { a, b in orderKey(a, key) < orderKey(b, key) ? a : b })]
    }

    /// Backward: g to the input(s) equal to the output; ties split evenly (torch.minimum).
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try variadicExtremumGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, Self.opType)
    }
}
