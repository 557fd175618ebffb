import LoupeTensor

/// LpPool: Y[N, C, out...] = (Σ |x|^p)^(1/p) over each window (p default 2).
public struct LpPool: Operator {
    public static let opType = "LpPool"
    let attrs: ConvAttributes
    let p: Float

    public init(_ context: OpContext) throws {
        attrs = try ConvAttributes(context, op: "LpPool")
        p = try context.attributes.float("p", 2)
        guard p > 0 else { throw LoupeError.invalid("LpPool: p \(p) must be positive") }
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        try attrs.inferPool(try required(inputs, 0))
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        [try attrs.runPool(.lp(p: p), try float(inputs, 0))]
    }

    /// dX = dY · sign(x) |x|^(p-1) / Y^(p-1) per tap (0 where Y is 0).
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        guard isGradientWanted(wanted, 0) else { return [nil] }
        return [try attrs.poolGradient(.lp(p: p), try float(inputs, 0), outputs[0], gradients.first ?? nil)]
    }
}
