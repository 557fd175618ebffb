import Foundation
import LoupeTensor

/// Mish (opset 18): Y = X tanh(softplus(X)) = X tanh(ln(1 + eˣ)).
public struct Mish: FloatUnaryOperator {
    public static let opType = "Mish"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float {
        let sp = x > 20 ? Double(x) : Foundation.log1p(Foundation.exp(Double(x)))
        return Float(Double(x) * Foundation.tanh(sp))
    }

    /// Backward: g · (tanh(sp) + x · sech²(sp) · σ(x)), sp = softplus(x).
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try unaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, Self.opType) { g, x, y in Self.derivative(x) * g }
    }

    /// d/dx [x tanh(softplus(x))], in Double.
    static func derivative(_ x: Float) -> Float {
        let xd = Double(x)
        let sp = xd > 20 ? xd : Foundation.log1p(Foundation.exp(xd))
        let t = Foundation.tanh(sp)
        let sigma = 1 / (1 + Foundation.exp(-xd))
        return Float(t + xd * (1 - t * t) * sigma)
    }
}
