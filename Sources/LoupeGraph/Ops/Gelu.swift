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
}
