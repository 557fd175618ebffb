import LoupeTensor

/// HardSwish: Y = X · max(0, min(1, X/6 + 1/2)) (opset 14; MobileNetV3).
public struct HardSwish: FloatUnaryOperator {
    public static let opType = "HardSwish"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { x * max(0, min(1, x * (1 / 6) + 0.5)) }

    /// Backward: 0 below −3, g above 3, g (2x + 3)/6 between.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try unaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, Self.opType) { g, x, y in x < -3 ? 0 : (x > 3 ? g : g * (2 * x + 3) / 6) }
    }
}
