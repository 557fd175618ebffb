import LoupeTensor

/// LeakyRelu: Y = X for X ≥ 0, alpha · X otherwise (alpha default 0.01).
public struct LeakyRelu: FloatUnaryOperator {
    public static let opType = "LeakyRelu"
    let alpha: Float
    public init(_ context: OpContext) throws {
        alpha = try context.attributes.float("alpha", 0.01)
    }

    @inline(__always)
    public func apply(_ x: Float) -> Float { x >= 0 ? x : alpha * x }
}
