import LoupeTensor

/// Round (opset 11): to the nearest integer, halves to even (as numpy.round).
public struct Round: FloatUnaryOperator {
    public static let opType = "Round"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { x.rounded(.toNearestOrEven) }

    /// Backward: zero almost everywhere (piecewise constant).
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try zeroGradients(inputs, wanted: wanted)
    }
}
