import LoupeTensor

/// Sign: Y = −1, 0 or 1 by the sign of X (NaN stays NaN), for float and integer tensors.
public struct Sign: Operator {
    public static let opType = "Sign"
    public init(_ context: OpContext) throws {}

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        try inferSame(inputs, Self.opType)
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        if x.isFloat { return [try mapFloat(x) { $0 > 0 ? 1 : ($0 < 0 ? -1 : $0) }] }
        let unsigned = x.dtype == .uint64
        return [mapInt(x) { $0 == 0 ? 0 : ($0 > 0 || unsigned ? 1 : -1) }]
    }

    /// Backward: zero almost everywhere (piecewise constant).
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try zeroGradients(inputs, wanted: wanted)
    }
}
