import LoupeTensor

/// Identity: Y = X, any dtype.
public struct Identity: Operator {
    public static let opType = "Identity"
    public init(_ context: OpContext) throws {}

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        try inferSame(inputs, Self.opType)
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        [try required(inputs, 0)]
    }
}
