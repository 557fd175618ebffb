import LoupeTensor

/// Dropout at inference: output = input; the optional mask output is all true (bool from
/// opset 10, X's dtype holding 1 before). `ratio` (attribute before 12, input 1 from 12) has no
/// effect; a `training_mode` input (opset 12) that is true is refused, since Loupe runs models
/// for inference only.
public struct Dropout: Operator {
    public static let opType = "Dropout"
    let wantsMask: Bool
    let boolMask: Bool

    public init(_ context: OpContext) throws {
        let outs = context.node.outputs
        wantsMask = outs.count > 1 && !outs[1].isEmpty
        boolMask = context.opset >= 10
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        return wantsMask ? [x, TensorType(boolMask ? .bool : x.dtype, x.shape)] : [x]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        if inputs.count > 2, let training = inputs[2], training.count == 1, training.intValues[0] != 0 {
            let ratio = inputs[1].map { $0.floatValues.first ?? 0.5 } ?? 0.5
            if ratio != 0 {
                throw LoupeError.unsupported("Dropout: training_mode = true (ratio \(ratio)) draws random masks; Loupe runs inference only")
            }
        }
        guard wantsMask else { return [x] }
        let n = try Tensor.checkedCount(x.shape)
        let mask = boolMask
            ? Tensor(shape: x.shape, ints: [Int64](repeating: 1, count: n), dtype: .bool)
            : (x.isFloat ? Tensor(shape: x.shape, floats: [Float](repeating: 1, count: n), dtype: x.dtype)
                         : Tensor(shape: x.shape, ints: [Int64](repeating: 1, count: n), dtype: x.dtype))
        return [x, mask]
    }

    /// Backward: the identity: the incoming gradient passes unchanged.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        var r = noGradients(inputs)
        if isWanted(wanted, 0), let x = inputs[0], x.isFloat, let g = try incomingGradient(gradients, 0, shape: x.shape, Self.opType) {
            r[0] = asGradient(g, shape: x.shape)
        }
        return r
    }
}
