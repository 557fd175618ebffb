import LoupeTensor

/// CastLike (opset 15): Y = X converted to the dtype of `target_type`, with Cast's rules.
public struct CastLike: Operator {
    public static let opType = "CastLike"
    let context: OpContext
    public init(_ context: OpContext) throws { self.context = context }

    func cast(to dtype: DType) throws -> Cast {
        var node = context.node
        node.attributes["to"] = .int(Int(dtype.rawValue))
        return try Cast(OpContext(node: node, opset: context.opset))
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        [TensorType(try required(inputs, 1).dtype, try required(inputs, 0).shape)]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        try cast(to: try required(inputs, 1).dtype).forward([try required(inputs, 0)])
    }

    /// Backward: the identity between floating-point types; none to or from integers.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        var r = noGradients(inputs)
        guard isWanted(wanted, 0), let x = inputs[0], x.isFloat, let y = outputs.first, y.isFloat,
              let g = try incomingGradient(gradients, 0, shape: x.shape, Self.opType) else { return r }
        r[0] = asGradient(g, shape: x.shape)
        return r
    }
}
