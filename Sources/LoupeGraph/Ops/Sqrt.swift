import LoupeTensor

/// Sqrt: Y = √X (NaN for negative X).
public struct Sqrt: FloatUnaryOperator {
    public static let opType = "Sqrt"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { x.squareRoot() }

    /// Backward: g / (2 √x); 0 at x = 0.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try unaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, Self.opType) { g, x, y in y > 0 ? g * 0.5 / y : 0 }
    }
}
