import Foundation
import LoupeTensor

/// Sigmoid: Y = 1 / (1 + e⁻ˣ).
public struct Sigmoid: FloatUnaryOperator {
    public static let opType = "Sigmoid"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) }

    /// Backward: g · y (1 − y).
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try unaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, Self.opType) { g, x, y in g * y * (1 - y) }
    }
}
