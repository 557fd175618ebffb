import Foundation
import LoupeTensor

/// Elu: Y = X for X ≥ 0, alpha · (eˣ − 1) otherwise (alpha default 1).
public struct Elu: FloatUnaryOperator {
    public static let opType = "Elu"
    let alpha: Float
    public init(_ context: OpContext) throws {
        alpha = try context.attributes.float("alpha", 1)
    }

    @inline(__always)
    public func apply(_ x: Float) -> Float { x >= 0 ? x : alpha * (Foundation.exp(x) - 1) }

    /// Backward: g for x ≥ 0, else g · (y + α).
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try unaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, Self.opType) { g, x, y in x >= 0 ? g : g * (y + alpha) }
    }
}
