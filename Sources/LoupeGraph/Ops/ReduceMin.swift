import LoupeTensor

/// ReduceMin: Y = min X over `axes` (all axes when empty, unless `noop_with_empty_axes`);
/// `keepdims` default 1. `axes` is an attribute before opset 18, input 1 from 18.
public struct ReduceMin: ReduceOperator {
    public static let opType = "ReduceMin"
    public static let kind = ReduceKind.min
    public let config: ReduceConfig
    public init(_ context: OpContext) throws { config = try ReduceConfig(context, axesInputSince: 18) }
}
