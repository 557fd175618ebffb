import LoupeTensor

/// Abs: Y = |X|, for float and integer tensors (unsigned values are returned unchanged).
public struct Abs: Operator {
    public static let opType = "Abs"
    public init(_ context: OpContext) throws {}

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        try inferSame(inputs, Self.opType)
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        if x.isFloat { return [try mapFloat(x) { abs($0) }] }
        if x.dtype == .uint64 { return [x] }
        return [mapInt(x) { $0 < 0 ? 0 &- $0 : $0 }]
    }

    /// Backward: g · sign(x).
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try unaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, Self.opType) { g, x, y in x > 0 ? g : (x < 0 ? -g : 0) }
    }
}
