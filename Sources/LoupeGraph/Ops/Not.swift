import LoupeTensor

/// Not: Y = ¬X on a bool tensor.
public struct Not: Operator {
    public static let opType = "Not"
    public init(_ context: OpContext) throws {}

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        return [TensorType(.bool, x.shape)]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        [mapInt(try truthValues(inputs, 0, Self.opType), dtype: .bool) { $0 == 0 ? 1 : 0 }]
    }

    /// Backward: none: the outputs are integer or boolean, or piecewise constant in a way that carries no gradient.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        noGradients(inputs)
    }
}
