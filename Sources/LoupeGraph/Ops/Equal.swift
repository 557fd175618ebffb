import LoupeTensor

/// Equal: C = (A = B) element-wise with broadcasting, as a bool tensor (opset 1–6
/// `broadcast`/`axis` honoured). Float and integer inputs; both must have one dtype.
public struct Equal: Operator {
    public static let opType = "Equal"
    let legacy: LegacyBroadcast
    public init(_ context: OpContext) throws { legacy = try LegacyBroadcast(context) }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        try inferCompare(inputs, legacy, Self.opType)
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        [try broadcastCompare(inputs, legacy, Self.opType, float: { $0 == $1 }, int: { $0 == $1 })]
    }

    /// Backward: none: the outputs are integer or boolean, or piecewise constant in a way that carries no gradient.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        noGradients(inputs)
    }
}
