import Foundation
import LoupeTensor

/// Selu: Y = gamma · X for X > 0, gamma · alpha · (eˣ − 1) otherwise (defaults from Klambauer et al. 2017, "Self-Normalizing Neural Networks").
public struct Selu: FloatUnaryOperator {
    public static let opType = "Selu"
    let alpha: Float
    let gamma: Float
    public init(_ context: OpContext) throws {
        let a = context.attributes
        alpha = try a.float("alpha", 1.67326319217681884765625)
        gamma = try a.float("gamma", 1.05070102214813232421875)
    }

    @inline(__always)
    public func apply(_ x: Float) -> Float { x > 0 ? gamma * x : gamma * (alpha * Foundation.exp(x) - alpha) }

    /// Backward: g · γ for x > 0, else g · (y + γα).
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try unaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, Self.opType) { g, x, y in x > 0 ? g * gamma : g * (y + gamma * alpha) }
    }
}
