import LoupeTensor

/// Neg: Y = −X, for float and signed integer tensors (integers wrap: −Int64.min = Int64.min).
public struct Neg: Operator {
    public static let opType = "Neg"
    public init(_ context: OpContext) throws {}

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        try inferSame(inputs, Self.opType)
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        return [x.isFloat ? try mapFloat(x) { -$0 } : mapInt(x) { 0 &- $0 }]
    }

    /// Backward: −g.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try unaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, Self.opType) { g, x, y in -g }
    }
}
