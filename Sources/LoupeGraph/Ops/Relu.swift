import LoupeTensor

/// Relu: Y = max(X, 0).
public struct Relu: Operator {
    public static let opType = "Relu"
    public init(_ context: OpContext) throws {}

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        [try required(inputs, 0)]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        [try mapFloat(try float(inputs, 0)) { max($0, 0) }]
    }
}
