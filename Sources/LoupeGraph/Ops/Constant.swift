import LoupeTensor

/// Constant: outputs the tensor given by exactly one of `value` (a tensor), `value_float`,
/// `value_floats`, `value_int`, `value_ints` (opset 12). `sparse_value`, `value_string` and
/// `value_strings` are not supported.
public struct Constant: Operator {
    public static let opType = "Constant"
    let value: Tensor

    public init(_ context: OpContext) throws {
        let a = context.attributes
        for name in ["sparse_value", "value_string", "value_strings"] where a.has(name) {
            throw LoupeError.unsupported("Constant with attribute '\(name)'")
        }
        if let t = try a.tensor("value") {
            value = t
        } else if a.has("value_float") {
            value = .scalar(try a.float("value_float", 0))
        } else if let v = try a.floats("value_floats") {
            value = .vector(v)
        } else if let v = try a.int("value_int") {
            value = .scalar(int: Int64(v))
        } else if let v = try a.ints("value_ints") {
            value = .vector(v.map { Int64($0) })
        } else {
            throw LoupeError.invalid("Constant has no value attribute")
        }
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        [TensorType(value.dtype, value.shape)]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] { [value] }

    /// Backward: a constant has no inputs to differentiate.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        [Tensor?](repeating: nil, count: inputs.count)
    }
}
