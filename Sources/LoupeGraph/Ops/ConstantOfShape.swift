import LoupeTensor

/// ConstantOfShape: a tensor of the shape given by input 0 (1-D int64; empty = scalar),
/// filled with the single element of the `value` attribute (default float32 0), in its dtype.
public struct ConstantOfShape: Operator {
    public static let opType = "ConstantOfShape"
    let value: Tensor

    public init(_ context: OpContext) throws {
        let v = try context.attributes.tensor("value") ?? .scalar(0)
        guard v.count == 1 else {
            throw LoupeError.invalid("ConstantOfShape 'value' should have one element, has shape \(describe(v.shape))")
        }
        value = v
    }

    func shape(_ t: Tensor) throws -> [Int] {
        let s = try Movement.ints(t, "input")
        try Tensor.checkedCount(s)
        return s
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        _ = try required(inputs, 0)
        guard let c = constants.first, let t = c else {
            throw LoupeError.unsupported("ConstantOfShape needs a constant 'input' (shape)")
        }
        return [TensorType(value.dtype, try shape(t))]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let s = try shape(try required(inputs, 0))
        let n = try Tensor.checkedCount(s)
        if value.isFloat {
            return [Tensor(shape: s, floats: [Float](repeating: value.floats[0], count: n), dtype: value.dtype)]
        }
        return [Tensor(shape: s, ints: [Int64](repeating: value.ints[0], count: n), dtype: value.dtype)]
    }

    /// Backward: the only input is an integer shape; the output does not depend on any value.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        [Tensor?](repeating: nil, count: inputs.count)
    }
}
