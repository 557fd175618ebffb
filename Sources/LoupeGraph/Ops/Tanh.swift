import Foundation
import LoupeTensor

/// Tanh: Y = tanh X.
public struct Tanh: FloatUnaryOperator {
    public static let opType = "Tanh"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { Foundation.tanh(x) }
}
