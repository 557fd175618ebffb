import LoupeTensor

/// Identity: Y = X, any dtype.
public struct Identity: Operator {
    public static let opType = "Identity"
    public init(_ context: OpContext) throws {}

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        try inferSame(inputs, Self.opType)
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        [try required(inputs, 0)]
    }

    /// Backward: the identity: the incoming gradient passes unchanged.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        var r = noGradients(inputs)
        if isWanted(wanted, 0), let x = inputs[0], x.isFloat, let g = try incomingGradient(gradients, 0, shape: x.shape, Self.opType) {
            r[0] = asGradient(g, shape: x.shape)
        }
        return r
    }
}
