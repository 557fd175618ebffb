import Foundation
import LoupeTensor

/// Tanh: Y = tanh X.
public struct Tanh: FloatUnaryOperator {
    public static let opType = "Tanh"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { Foundation.tanh(x) }

    /// Backward: g · (1 − y²).
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try unaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, Self.opType) { g, x, y in g * (1 - y * y) }
    }
}
