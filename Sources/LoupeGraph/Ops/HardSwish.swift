import LoupeTensor

/// HardSwish: Y = X · max(0, min(1, X/6 + 1/2)) (opset 14; MobileNetV3).
public struct HardSwish: FloatUnaryOperator {
    public static let opType = "HardSwish"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { x * max(0, min(1, x * (1 / 6) + 0.5)) }
}
