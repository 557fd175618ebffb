import Foundation
import LoupeTensor

/// Gelu (opset 20): Y = 0.5 X (1 + erf(X / √2)); with approximate = "tanh",
/// Y = 0.5 X (1 + tanh(√(2/π) (X + 0.044715 X³))).
public struct Gelu: FloatUnaryOperator {
    public static let opType = "Gelu"
    let tanhApproximation: Bool

    public init(_ context: OpContext) throws {
        let a = try context.attributes.string("approximate", "none")
        guard a == "none" || a == "tanh" else {
            throw LoupeError.invalid("Gelu: approximate must be 'none' or 'tanh', got '\(a)'")
        }
        tanhApproximation = a == "tanh"
    }

    @inline(__always)
    public func apply(_ x: Float) -> Float {
        if tanhApproximation {
            let k = Float((2 / Double.pi).squareRoot())
            return 0.5 * x * (1 + Foundation.tanh(k * (x + 0.044715 * x * x * x)))
        }
        return Float(0.5 * Double(x) * (1 + Foundation.erf(Double(x) / 2.0.squareRoot())))
    }

    /// Backward: g · dGelu/dx, for the exact and the tanh forms.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try unaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, Self.opType) { g, x, y in derivative(x) * g }
    }

    /// d/dx of the exact (Φ(x) + x φ(x)) or tanh-approximated Gelu, in Double.
    func derivative(_ x: Float) -> Float {
        let xd = Double(x)
        if tanhApproximation {
            let k = (2 / Double.pi).squareRoot()
            let u = k * (xd + 0.044715 * xd * xd * xd)
            let t = Foundation.tanh(u)
            return Float(0.5 * (1 + t) + 0.5 * xd * (1 - t * t) * k * (1 + 3 * 0.044715 * xd * xd))
        }
        let phi = Foundation.exp(-xd * xd / 2) / (2 * Double.pi).squareRoot()
        return Float(0.5 * (1 + Foundation.erf(xd / 2.0.squareRoot())) + xd * phi)
    }
}
