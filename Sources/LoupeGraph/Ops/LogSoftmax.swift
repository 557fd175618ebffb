import LoupeTensor

/// LogSoftmax: Y = X − max − ln Σ exp(X − max). Before opset 13 the input is viewed as 2-D at
/// `axis` (default 1) and normalised over the flattened dims [axis, rank); from 13 over the one
/// dim `axis` (default -1). See `SoftmaxAxis`.
public struct LogSoftmax: Operator {
    public static let opType = "LogSoftmax"
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
        return [try softmax(x, outer: outer, n: n, inner: inner, log: true)]
    }
}
