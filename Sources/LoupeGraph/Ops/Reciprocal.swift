import LoupeTensor

/// Reciprocal: Y = 1 / X.
public struct Reciprocal: FloatUnaryOperator {
    public static let opType = "Reciprocal"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { 1 / x }
}
