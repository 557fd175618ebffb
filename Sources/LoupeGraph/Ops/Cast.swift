import LoupeTensor

/// Cast: Y = X converted to the dtype `to` (a TensorProto.DataType code; a type name such as
/// "FLOAT" in opset 1–5). Float to integer truncates toward zero as in C (NaN gives 0, out of
/// range values saturate to Int64 before wrapping to the target width); to bool is X ≠ 0; to
/// float16 rounds to half precision (to nearest even), though the value is stored as Float.
/// Strings, bfloat16, float8 and 4-bit types are refused.
public struct Cast: Operator {
    public static let opType = "Cast"
    let to: DType

    static let names: [String: Int32] = [
        "FLOAT": 1, "UINT8": 2, "INT8": 3, "UINT16": 4, "INT16": 5, "INT32": 6, "INT64": 7,
        "STRING": 8, "BOOL": 9, "FLOAT16": 10, "DOUBLE": 11, "UINT32": 12, "UINT64": 13,
        "COMPLEX64": 14, "COMPLEX128": 15, "BFLOAT16": 16,
    ]

    public init(_ context: OpContext) throws {
        let code: Int32
        switch context.attributes.values["to"] {
        case .int(let v)?:
            code = Int32(clamping: v)
        case .string(let s)?:
            guard let c = Cast.names[s.uppercased()] else {
                throw LoupeError.invalid("Cast: unknown target type name '\(s)'")
            }
            code = c
        case nil:
            throw LoupeError.invalid("Cast: attribute 'to' is missing")
        default:
            throw LoupeError.invalid("Cast: attribute 'to' should be an int")
        }
        guard let t = DType(rawValue: code) else {
            let name = Cast.names.first { $0.value == code }?.key ?? "data type \(code)"
            throw LoupeError.unsupported("Cast: target type \(name) is not supported (float16/32/64, integers and bool are)")
        }
        to = t
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        [TensorType(to, try required(inputs, 0).shape)]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        let to = self.to
        switch (x.isFloat, to.isFloatingPoint) {
        case (true, true):
            var y = to == .float16 && x.dtype != .float16 ? try mapFloat(x) { Cast.roundToHalf($0) } : x
            y.dtype = to
            return [y]
        case (true, false):
            let ints = to == .bool
                ? x.floats.map { $0 != 0 ? Int64(1) : 0 }
                : x.floats.map { to.wrap(truncatingInt($0)) }
            return [Tensor(shape: x.shape, ints: ints, dtype: to)]
        case (false, true):
            let dt = x.dtype
            let f = to == .float16 ? x.ints.map { Cast.roundToHalf(floatOf($0, dt)) } : x.ints.map { floatOf($0, dt) }
            return [Tensor(shape: x.shape, floats: f, dtype: to)]
        case (false, false):
            return [mapInt(x, dtype: to) { $0 }]
        }
    }

    /// `x` rounded to the nearest IEEE half-precision value (ties to even); beyond the half
    /// range it becomes ±infinity. Scaling by powers of two keeps every step exact in Float.
    static func roundToHalf(_ x: Float) -> Float {
        guard x.isFinite else { return x }
        let a = abs(x)
        if a >= 65520 { return x < 0 ? -.infinity : .infinity }  // halfway past 65504 rounds up
        let quantum: Float = a < 0x1p-14 ? 0x1p-24 : Float(sign: .plus, exponent: a.exponent - 10, significand: 1)
        let r = (a / quantum).rounded(.toNearestOrEven) * quantum
        return x < 0 ? -r : r
    }

    /// Backward: the identity between floating-point types; none to or from integers.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        var r = noGradients(inputs)
        guard isWanted(wanted, 0), let x = inputs[0], x.isFloat, let y = outputs.first, y.isFloat,
              let g = try incomingGradient(gradients, 0, shape: x.shape, Self.opType) else { return r }
        r[0] = asGradient(g, shape: x.shape)
        return r
    }
}
