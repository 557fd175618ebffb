import LoupeTensor

/// Sqrt: Y = √X (NaN for negative X).
public struct Sqrt: FloatUnaryOperator {
    public static let opType = "Sqrt"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { x.squareRoot() }
}
