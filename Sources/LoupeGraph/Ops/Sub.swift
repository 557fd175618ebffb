import LoupeTensor

/// Sub: C = A − B with broadcasting (opset 1–6 `broadcast`/`axis` honoured); integers wrap.
public struct Sub: Operator {
    public static let opType = "Sub"
    let legacy: LegacyBroadcast
    public init(_ context: OpContext) throws { legacy = try LegacyBroadcast(context) }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        try inferBinary(inputs, legacy)
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        try binary(inputs, legacy, float: -, int: &-)
    }
}
