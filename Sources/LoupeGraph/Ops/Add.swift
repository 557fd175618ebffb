import LoupeTensor

/// Add: C = A + B with broadcasting (opset 1–6 `broadcast`/`axis` attributes honoured).
public struct Add: Operator {
    public static let opType = "Add"
    let legacy: LegacyBroadcast
    public init(_ context: OpContext) throws { legacy = try LegacyBroadcast(context) }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        try inferBinary(inputs, legacy)
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        try binary(inputs, legacy, float: +, int: &+)
    }

    /// Backward: g to both operands, summed over broadcast dimensions.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try binaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, legacy, Self.opType,
                           da: { g, _, _, _ in g }, db: { g, _, _, _ in g })
    }
}
