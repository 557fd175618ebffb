import Foundation
import LoupeTensor

/// Exp: Y = eˣ.
public struct Exp: FloatUnaryOperator {
    public static let opType = "Exp"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { Foundation.exp(x) }

    /// Backward: g · y.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try unaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, Self.opType) { g, x, y in g * y }
    }
}
