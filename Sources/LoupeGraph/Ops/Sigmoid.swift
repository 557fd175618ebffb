import Foundation
import LoupeTensor

/// Sigmoid: Y = 1 / (1 + e⁻ˣ).
public struct Sigmoid: FloatUnaryOperator {
    public static let opType = "Sigmoid"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) }
}
