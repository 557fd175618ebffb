import LoupeTensor

/// Sum: Y = X₀ + X₁ + … over any number of float inputs, with broadcasting (opset 8+; earlier
/// opsets required equal shapes, a special case).
public struct Sum: Operator {
    public static let opType = "Sum"
    public init(_ context: OpContext) throws {}

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let t = try inferVariadic(inputs, Self.opType)
        return try inferSameFloat([t], Self.opType)
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        [try variadic(inputs, Self.opType, float: +, int: nil)]
    }

    /// Backward: g to every input, summed over broadcast dimensions.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try variadicSumGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, scale: 1, Self.opType)
    }
}
