import Foundation
import LoupeTensor

/// Erf: Y = erf(X), the Gauss error function.
public struct Erf: FloatUnaryOperator {
    public static let opType = "Erf"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { Foundation.erf(x) }
}
