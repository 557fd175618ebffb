import Foundation
import LoupeTensor

/// Pow: Z = X^Y with broadcasting (opset 1–6 `broadcast`/`axis` honoured). Z has X's dtype.
/// The exponent may have another dtype (opset 12+): a float base takes an integer exponent
/// converted to float; an integer base with a float exponent is computed in float and truncated;
/// integer to integer powers multiply exactly (wrapping), negative exponents truncate like C.
public struct Pow: Operator {
    public static let opType = "Pow"
    let legacy: LegacyBroadcast
    public init(_ context: OpContext) throws { legacy = try LegacyBroadcast(context) }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0), y = try required(inputs, 1)
        guard x.dtype != .bool, y.dtype != .bool else {
            throw LoupeError.unsupported("Pow: bool operands \(x) and \(y)")
        }
        return [TensorType(x.dtype, try broadcastShape(x.shape, try legacy.align(x.shape, y.shape)))]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        var y = try required(inputs, 1)
        y.shape = try legacy.align(x.shape, y.shape)
        if x.isFloat {
            var z = try broadcastFloat(x, asFloatTensor(y)) { Foundation.pow($0, $1) }
            z.dtype = x.dtype
            return [z]
        }
        if y.isFloat {
            let z = try broadcastFloat(asFloatTensor(x), y) { Foundation.pow($0, $1) }
            let dt = x.dtype
            return [Tensor(shape: z.shape, ints: z.floats.map { dt.wrap(truncatingInt($0)) }, dtype: dt)]
        }
        return [try broadcastInt(x, y, dtype: x.dtype, Pow.integerPower)]
    }

    /// base^exponent in wrapping Int64 arithmetic by repeated squaring; a negative exponent
    /// gives the C-truncated 1 / base^|exponent| (0 unless base is ±1).
    static func integerPower(_ base: Int64, _ exponent: Int64) -> Int64 {
        if exponent < 0 {
            if base == 1 { return 1 }
            if base == -1 { return exponent & 1 == 0 ? 1 : -1 }
            return 0
        }
        var result: Int64 = 1, b = base, e = exponent
        while e > 0 {
            if e & 1 == 1 { result = result &* b }
            b = b &* b
            e >>= 1
        }
        return result
    }

    /// Backward: g · B · A^(B−1) and g · A^B · ln A (0 where A ≤ 0).
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try binaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, legacy, Self.opType,
                           da: { g, a, b, _ in b == 0 ? 0 : g * b * Foundation.pow(a, b - 1) },
                           db: { g, a, _, c in a > 0 ? g * c * Foundation.log(a) : 0 })
    }
}
