import LoupeTensor

/// Softsign: Y = X / (1 + |X|).
public struct Softsign: FloatUnaryOperator {
    public static let opType = "Softsign"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { x / (1 + abs(x)) }
}
