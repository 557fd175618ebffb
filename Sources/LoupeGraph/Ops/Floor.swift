import LoupeTensor

/// Floor: Y = ⌊X⌋.
public struct Floor: FloatUnaryOperator {
    public static let opType = "Floor"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { x.rounded(.down) }
}
