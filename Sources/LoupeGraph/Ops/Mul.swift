import LoupeTensor

/// Mul: C = A · B with broadcasting (opset 1–6 `broadcast`/`axis` honoured); integers wrap.
public struct Mul: Operator {
    public static let opType = "Mul"
    let legacy: LegacyBroadcast
    public init(_ context: OpContext) throws { legacy = try LegacyBroadcast(context) }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        try inferBinary(inputs, legacy)
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        try binary(inputs, legacy, float: *, int: &*)
    }

    /// Backward: g · B and g · A, summed over broadcast dimensions.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try binaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, legacy, Self.opType,
                           da: { g, _, b, _ in g * b }, db: { g, a, _, _ in g * a })
    }
}
