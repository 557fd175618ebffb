import LoupeTensor

/// ReduceLogSumExp: Y = ln Σ eˣ (shifted by the maximum for stability) over `axes` (all axes when empty, unless `noop_with_empty_axes`);
/// `keepdims` default 1. `axes` is an attribute before opset 18, input 1 from 18.
public struct ReduceLogSumExp: ReduceOperator {
    public static let opType = "ReduceLogSumExp"
    public static let kind = ReduceKind.logSumExp
    public let config: ReduceConfig
    public init(_ context: OpContext) throws { config = try ReduceConfig(context, axesInputSince: 18) }
}
