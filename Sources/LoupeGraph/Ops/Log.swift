import Foundation
import LoupeTensor

/// Log: Y = ln X (−inf at 0, NaN below).
public struct Log: FloatUnaryOperator {
    public static let opType = "Log"
    public init(_ context: OpContext) throws {}

    @inline(__always)
    public func apply(_ x: Float) -> Float { Foundation.log(x) }

    /// Backward: g / x.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try unaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, Self.opType) { g, x, y in g / x }
    }
}
