import LoupeTensor

/// Ceil: Y = ⌈X⌉.
public struct Ceil: FloatUnaryOperator {
    public static let opType = "Ceil"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { x.rounded(.up) }
}
