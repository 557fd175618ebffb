import LoupeTensor

/// Reciprocal: Y = 1 / X.
public struct Reciprocal: FloatUnaryOperator {
    public static let opType = "Reciprocal"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { 1 / x }

    /// Backward: −g / x².
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try unaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, Self.opType) { g, x, y in -g * y * y }
    }
}
