import LoupeTensor

/// GlobalAveragePool: Y[N, C, 1, ...] = the mean of X[N, C, spatial...] over all spatial positions.
public struct GlobalAveragePool: Operator {
    public static let opType = "GlobalAveragePool"
    /// Carried inputs pool through oneDNN (an average over the whole plane).
    let carryOutput: Bool
    let pooling = PoolingPlan()
    public init(_ context: OpContext) throws { carryOutput = carriesLayout(context) }

    public func acceptsCarried(_ inputs: [Tensor?]) -> Bool { (inputs.first ?? nil)?.rank == 4 }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        try checkImageRank(Self.opType, "X", x.shape)
        return [TensorType(x.dtype, Array(x.shape[0..<2]) + [Int](repeating: 1, count: x.shape.count - 2))]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try float(inputs, 0)
        if x.isCarried, x.rank == 4 {
            let hw = Array(x.shape[2...])
            let g = ConvGeometry(input: hw, kernel: hw, strides: [1, 1], dilations: [1, 1], padsBegin: [0, 0], padsEnd: [0, 0],
                                 output: [1, 1])
            return [try pooling.forward(x: x, kind: .average(countIncludePad: false), g, carry: carryOutput)]
        }
        return [try globalPool(Self.opType, max: false, x)]
    }

    /// dX = dY / (number of spatial positions), at every position.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        guard isGradientWanted(wanted, 0) else { return [nil] }
        return [try globalPoolGradient(max: false, try float(inputs, 0), gradients.first ?? nil)]
    }
}
