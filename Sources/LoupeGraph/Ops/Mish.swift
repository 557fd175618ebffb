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
}
