import Foundation
import LoupeTensor

/// Exp: Y = eˣ.
public struct Exp: FloatUnaryOperator {
    public static let opType = "Exp"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { Foundation.exp(x) }
}
