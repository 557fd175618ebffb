import LoupeTensor

/// AveragePool: Y[N, C, out...] = mean of X over each window; padded positions count
/// towards the divisor only with count_include_pad = 1.
public struct AveragePool: Operator {
    public static let opType = "AveragePool"
    let attrs: ConvAttributes
    let countIncludePad: Bool
    /// Carried inputs pool through oneDNN in their layout (as MaxPool).
    let carryOutput: Bool
    let pooling = PoolingPlan()

    public init(_ context: OpContext) throws {
        attrs = try ConvAttributes(context, op: "AveragePool")
        countIncludePad = try context.attributes.int("count_include_pad", 0) != 0
        carryOutput = carriesLayout(context)
    }

    public func acceptsCarried(_ inputs: [Tensor?]) -> Bool {
        guard let x = inputs.first ?? nil, x.rank == 4, let g = try? attrs.poolGeometry(x.shape) else { return false }
        return PoolingPlan.supports(.average(countIncludePad: countIncludePad), g)
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        try attrs.inferPool(try required(inputs, 0))
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try float(inputs, 0)
        if x.isCarried {
            return [try pooling.forward(x: x, kind: .average(countIncludePad: countIncludePad), try attrs.poolGeometry(x.shape),
                                        carry: carryOutput)]
        }
        return [try attrs.runPool(.average(countIncludePad: countIncludePad), x)]
    }

    /// dY spread evenly over each window's taps inside X, divided by the forward divisor.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        guard isGradientWanted(wanted, 0) else { return [nil] }
        return [try attrs.poolGradient(.average(countIncludePad: countIncludePad), try float(inputs, 0),
                                       outputs[0], gradients.first ?? nil)]
    }
}
