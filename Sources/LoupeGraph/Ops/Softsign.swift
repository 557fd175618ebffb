import LoupeTensor

/// Softsign: Y = X / (1 + |X|).
public struct Softsign: FloatUnaryOperator {
    public static let opType = "Softsign"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { x / (1 + abs(x)) }

    /// Backward: g / (1 + |x|)².
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try unaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, Self.opType) { g, x, y in g / ((1 + Swift.abs(x)) * (1 + Swift.abs(x))) }
    }
}
