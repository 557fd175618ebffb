import LoupeTensor

/// Mean: Y = (X₀ + X₁ + … + Xₙ₋₁) / n over n float inputs, with broadcasting (opset 8+).
public struct Mean: Operator {
    public static let opType = "Mean"
    public init(_ context: OpContext) throws {}

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let t = try inferVariadic(inputs, Self.opType)
        return try inferSameFloat([t], Self.opType)
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let sum = try variadic(inputs, Self.opType, float: +, int: nil)
        let scale = 1 / Float(inputs.count)
        return [try mapFloat(sum) { $0 * scale }]
    }

    /// Backward: g / n to every input, summed over broadcast dimensions.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try variadicSumGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, scale: 1 / Float(max(inputs.count, 1)), Self.opType)
    }
}
