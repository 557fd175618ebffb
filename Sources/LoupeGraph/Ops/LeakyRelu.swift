import LoupeTensor

/// LeakyRelu: Y = X for X ≥ 0, alpha · X otherwise (alpha default 0.01).
public struct LeakyRelu: FloatUnaryOperator {
    public static let opType = "LeakyRelu"
    let alpha: Float
    public init(_ context: OpContext) throws {
        alpha = try context.attributes.float("alpha", 0.01)
    }

    @inline(__always)
    public func apply(_ x: Float) -> Float { x >= 0 ? x : alpha * x }

    /// Backward: g for x > 0, g · α otherwise; a ReLU under the deconvnet and guided rules (BackwardRules).
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try unaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, Self.opType) { g, x, y in leakyGradient(g, x, negativeSlope: alpha, rules.relu) }
    }
}
