import LoupeTensor

/// Div: C = A / B with broadcasting (opset 1–6 `broadcast`/`axis` honoured). Integer division
/// truncates toward zero as in C; a zero divisor gives 0 rather than trapping.
public struct Div: Operator {
    public static let opType = "Div"
    let legacy: LegacyBroadcast
    public init(_ context: OpContext) throws { legacy = try LegacyBroadcast(context) }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        try inferBinary(inputs, legacy)
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        try binary(inputs, legacy, float: /, int: { a, b in b == 0 ? 0 : a.dividedReportingOverflow(by: b).partialValue })
    }

    /// Backward: g / B and −g · A / B², summed over broadcast dimensions.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try binaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, legacy, Self.opType,
                           da: { g, _, b, _ in g / b }, db: { g, _, b, c in -g * c / b })
    }
}
