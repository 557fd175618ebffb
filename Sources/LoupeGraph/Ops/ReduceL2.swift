import LoupeTensor

/// ReduceL2: Y = √(Σ X²) over `axes` (all axes when empty, unless `noop_with_empty_axes`);
/// `keepdims` default 1. `axes` is an attribute before opset 18, input 1 from 18.
public struct ReduceL2: ReduceOperator {
    public static let opType = "ReduceL2"
    public static let kind = ReduceKind.l2
    public let config: ReduceConfig
    public init(_ context: OpContext) throws { config = try ReduceConfig(context, axesInputSince: 18) }
}
