import LoupeTensor

/// Round (opset 11): to the nearest integer, halves to even (as numpy.round).
public struct Round: FloatUnaryOperator {
    public static let opType = "Round"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { x.rounded(.toNearestOrEven) }
}
