import LoupeTensor

/// GlobalMaxPool: Y[N, C, 1, ...] = the maximum of X[N, C, spatial...] over all spatial positions.
public struct GlobalMaxPool: Operator {
    public static let opType = "GlobalMaxPool"
    public init(_ context: OpContext) throws {}

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        try checkImageRank(Self.opType, "X", x.shape)
        return [TensorType(x.dtype, Array(x.shape[0..<2]) + [Int](repeating: 1, count: x.shape.count - 2))]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        [try globalPool(Self.opType, max: true, try float(inputs, 0))]
    }

    /// dY goes to the first maximal position of each plane.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        guard isGradientWanted(wanted, 0) else { return [nil] }
        return [try globalPoolGradient(max: true, try float(inputs, 0), gradients.first ?? nil)]
    }
}
