import LoupeTensor

/// Ceil: Y = ⌈X⌉.
public struct Ceil: FloatUnaryOperator {
    public static let opType = "Ceil"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { x.rounded(.up) }

    /// Backward: zero almost everywhere (piecewise constant).
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try zeroGradients(inputs, wanted: wanted)
    }
}
