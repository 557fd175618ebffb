import LoupeTensor

/// Or: C = A ∨ B element-wise on bool tensors with broadcasting (opset 1–6
/// `broadcast`/`axis` honoured).
public struct Or: Operator {
    public static let opType = "Or"
    let legacy: LegacyBroadcast
    public init(_ context: OpContext) throws { legacy = try LegacyBroadcast(context) }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        try inferCompare(inputs, legacy, Self.opType)
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let a = try truthValues(inputs, 0, Self.opType), b = try truthValues(inputs, 1, Self.opType)
        return [try broadcastCompare([a, b], legacy, Self.opType, float: { _, _ in false }, int: { ($0 != 0) || ($1 != 0) })]
    }

    /// Backward: none: the outputs are integer or boolean, or piecewise constant in a way that carries no gradient.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        noGradients(inputs)
    }
}
