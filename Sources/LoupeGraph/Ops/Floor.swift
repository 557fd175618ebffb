import LoupeTensor

/// Floor: Y = ⌊X⌋.
public struct Floor: FloatUnaryOperator {
    public static let opType = "Floor"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { x.rounded(.down) }

    /// Backward: zero almost everywhere (piecewise constant).
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try zeroGradients(inputs, wanted: wanted)
    }
}
