import LoupeTensor

/// ArgMin: int64 index of the smallest element along `axis` (default 0); `keepdims` default 1;
/// ties go to the first index unless `select_last_index` = 1 (opset 12).
public struct ArgMin: Operator {
    public static let opType = "ArgMin"
    let axis: Int
    let keepdims: Bool
    let selectLastIndex: Bool

    public init(_ context: OpContext) throws {
        let a = context.attributes
        axis = try a.int("axis", 0)
        keepdims = try a.int("keepdims", 1) != 0
        selectLastIndex = try a.int("select_last_index", 0) != 0
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        let ax = try normalizeAxis(axis, rank: x.shape.count, what: "ArgMin axis")
        guard !x.shape.isEmpty else { throw LoupeError.shape("ArgMin: input is a scalar") }
        var shape = x.shape
        if keepdims { shape[ax] = 1 } else { shape.remove(at: ax) }
        return [TensorType(.int64, shape)]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        [try argExtreme(try required(inputs, 0), axis: axis, keepdims: keepdims,
                        selectLast: selectLastIndex, largest: false, op: Self.opType)]
    }

    /// Backward: none: the outputs are integer or boolean, or piecewise constant in a way that carries no gradient.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        noGradients(inputs)
    }
}
