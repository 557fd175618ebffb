import Foundation
import LoupeTensor

/// Softplus: Y = ln(1 + eˣ), computed as max(X, 0) + ln(1 + e^−|X|) so that large X does not overflow.
public struct Softplus: FloatUnaryOperator {
    public static let opType = "Softplus"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { max(x, 0) + Foundation.log1p(Foundation.exp(-abs(x))) }

    /// Backward: g · σ(x).
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try unaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, Self.opType) { g, x, y in g / (1 + Foundation.exp(-x)) }
    }
}
