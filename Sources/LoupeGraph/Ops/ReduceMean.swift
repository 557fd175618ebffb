import LoupeTensor

/// ReduceMean: Y = the mean of X over `axes` (all axes when empty, unless `noop_with_empty_axes`);
/// `keepdims` default 1. `axes` is an attribute before opset 18, input 1 from 18.
public struct ReduceMean: ReduceOperator {
    public static let opType = "ReduceMean"
    public static let kind = ReduceKind.mean
    public let config: ReduceConfig
    public init(_ context: OpContext) throws { config = try ReduceConfig(context, axesInputSince: 18) }
}
