import LoupeTensor

/// GlobalAveragePool: Y[N, C, 1, ...] = the mean of X[N, C, spatial...] over all spatial positions.
public struct GlobalAveragePool: Operator {
    public static let opType = "GlobalAveragePool"
    public init(_ context: OpContext) throws {}

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        try checkImageRank(Self.opType, "X", x.shape)
        return [TensorType(x.dtype, Array(x.shape[0..<2]) + [Int](repeating: 1, count: x.shape.count - 2))]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        [try globalPool(Self.opType, max: false, try float(inputs, 0))]
    }

    /// dX = dY / (number of spatial positions), at every position.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        guard isGradientWanted(wanted, 0) else { return [nil] }
        return [try globalPoolGradient(max: false, try float(inputs, 0), gradients.first ?? nil)]
    }
}
