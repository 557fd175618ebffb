import Foundation
import LoupeTensor

/// Erf: Y = erf(X), the Gauss error function.
public struct Erf: FloatUnaryOperator {
    public static let opType = "Erf"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { Foundation.erf(x) }

    /// Backward: g · 2/√π · e^(−x²).
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try unaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, Self.opType) { g, x, y in g * 1.1283791670955126 * Foundation.exp(-x * x) }
    }
}
