import LoupeTensor

/// ReduceSum: Y = Σ X over `axes` (all axes when empty, unless `noop_with_empty_axes`);
/// `keepdims` default 1. `axes` is an attribute before opset 13, input 1 from 13.
public struct ReduceSum: ReduceOperator {
    public static let opType = "ReduceSum"
    public static let kind = ReduceKind.sum
    public let config: ReduceConfig
    public init(_ context: OpContext) throws { config = try ReduceConfig(context, axesInputSince: 13) }
}
