import LoupeTensor

/// ReduceProd: Y = Π X over `axes` (all axes when empty, unless `noop_with_empty_axes`);
/// `keepdims` default 1. `axes` is an attribute before opset 18, input 1 from 18.
public struct ReduceProd: ReduceOperator {
    public static let opType = "ReduceProd"
    public static let kind = ReduceKind.prod
    public let config: ReduceConfig
    public init(_ context: OpContext) throws { config = try ReduceConfig(context, axesInputSince: 18) }
}
