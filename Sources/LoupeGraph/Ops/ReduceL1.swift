import LoupeTensor

/// ReduceL1: Y = Σ |X| over `axes` (all axes when empty, unless `noop_with_empty_axes`);
/// `keepdims` default 1. `axes` is an attribute before opset 18, input 1 from 18.
public struct ReduceL1: ReduceOperator {
    public static let opType = "ReduceL1"
    public static let kind = ReduceKind.l1
    public let config: ReduceConfig
    public init(_ context: OpContext) throws { config = try ReduceConfig(context, axesInputSince: 18) }
}
