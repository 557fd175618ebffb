import LoupeTensor

/// Softmax: Y = exp(X − max) / Σ exp(X − max). Before opset 13 the input is viewed as 2-D at
/// `axis` (default 1) and normalised over the flattened dims [axis, rank); from 13 over the one
/// dim `axis` (default -1). See `SoftmaxAxis`.
public struct Softmax: Operator {
    public static let opType = "Softmax"
    let axis: SoftmaxAxis
    public init(_ context: OpContext) throws { axis = try SoftmaxAxis(context) }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let t = try inferSameFloat(inputs, Self.opType)
        _ = try axis.split(t[0].shape, Self.opType)
        return t
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try float(inputs, 0)
        let (outer, n, inner) = try axis.split(x.shape, Self.opType)
        return [try softmax(x, outer: outer, n: n, inner: inner, log: false)]
    }

    /// Backward: y · (g − Σ g·y) over the softmax axis (the coerced 2-D axis before opset 13).
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        var r = noGradients(inputs)
        guard isWanted(wanted, 0), let x = inputs[0], let y = outputs.first,
              let g = try incomingGradient(gradients, 0, shape: x.shape, Self.opType) else { return r }
        let (outer, n, inner) = try axis.split(x.shape, Self.opType)
        r[0] = try softmaxBackward(y, g, outer: outer, n: n, inner: inner, log: false)
        return r
    }
}
