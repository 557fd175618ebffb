import LoupeTensor

/// Add: C = A + B with broadcasting (opset 1–6 `broadcast`/`axis` attributes honoured).
public struct Add: Operator {
    public static let opType = "Add"
    let legacy: LegacyBroadcast
    /// A Relu or Clip folded in by `fuseActivations` (inference plans only).
    let clip: (Float, Float)?
    public init(_ context: OpContext) throws {
        legacy = try LegacyBroadcast(context)
        clip = fusedClip(context)
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        try inferBinary(inputs, legacy)
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let (lo, hi) = clip else { return try binary(inputs, legacy, float: +, int: &+) }
        // The fused clamp in the same loop as the sum.
        var out = try binary(inputs, legacy, float: { Swift.min(Swift.max($0 + $1, lo), hi) }, int: &+)
        if !out[0].isFloat {
            let l = Int64(Swift.max(lo, -9.2e18)), h = Int64(Swift.min(hi, 9.2e18))
            out[0].ints = out[0].ints.map { Swift.min(Swift.max($0, l), h) }
        }
        return out
    }

    /// Backward: g to both operands, summed over broadcast dimensions; through the fused
    /// activation's rule first, in a fused gradient plan.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        var gradients = gradients
        if let clip, let g = gradients.first ?? nil {
            gradients[0] = try fusedClipGradient(g, output: try required(outputs, 0), clip, rules)
        }
        return try binaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, legacy, Self.opType,
                           da: { g, _, _, _ in g }, db: { g, _, _, _ in g })
    }
}
