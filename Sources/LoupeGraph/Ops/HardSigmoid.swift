import LoupeTensor

/// HardSigmoid: Y = max(0, min(1, alpha · X + beta)) (alpha default 0.2, beta 0.5).
public struct HardSigmoid: FloatUnaryOperator {
    public static let opType = "HardSigmoid"
    let alpha: Float
    let beta: Float
    public init(_ context: OpContext) throws {
        let a = context.attributes
        alpha = try a.float("alpha", 0.2)
        beta = try a.float("beta", 0.5)
    }

    @inline(__always)
    public func apply(_ x: Float) -> Float { max(0, min(1, alpha * x + beta)) }

    /// Backward: g · α where 0 < αx + β < 1, else 0.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try unaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, Self.opType) { g, x, y in (alpha * x + beta > 0 && alpha * x + beta < 1) ? g * alpha : 0 }
    }
}
