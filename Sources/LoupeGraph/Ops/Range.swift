import LoupeTensor

/// Range: [start, start+delta, …) up to `limit` (exclusive), all three scalar inputs of one
/// dtype; max(ceil((limit - start) / delta), 0) elements.
///
/// Named `RangeOp` because a public `Range` would shadow `Swift.Range` for every module that
/// imports LoupeGraph.
public struct RangeOp: Operator {
    public static let opType = "Range"
    public init(_ context: OpContext) throws {}

    static func count(_ start: Tensor, _ limit: Tensor, _ delta: Tensor) throws -> Int {
        guard start.count == 1, limit.count == 1, delta.count == 1 else {
            throw LoupeError.invalid("Range start, limit and delta must be scalars")
        }
        let n: Int
        if start.isFloat {
            let s = Double(start.floats[0]), l = Double(limit.floats[0]), d = Double(delta.floats[0])
            guard d != 0, d.isFinite, s.isFinite, l.isFinite else {
                throw LoupeError.invalid("Range with start \(s), limit \(l), delta \(d)")
            }
            let c = ((l - s) / d).rounded(.up)
            guard c < Double(Tensor.maxElements) else {
                throw LoupeError(.tooLarge, "Range from \(s) to \(l) by \(d) has too many elements")
            }
            n = max(Int(c), 0)
        } else {
            let s = start.ints[0], l = limit.ints[0], d = delta.ints[0]
            guard d != 0 else { throw LoupeError.invalid("Range delta is 0") }
            let span = Double(l) - Double(s)
            guard span / Double(d) < Double(Tensor.maxElements) else {
                throw LoupeError(.tooLarge, "Range from \(s) to \(l) by \(d) has too many elements")
            }
            let (diff, overflow) = Int(l).subtractingReportingOverflow(Int(s))
            guard !overflow else { throw LoupeError(.tooLarge, "Range from \(s) to \(l) has too many elements") }
            let step = Int(d)
            n = step > 0 ? max((diff + step - 1) / step, 0) : max((diff + step + 1) / step, 0)
        }
        return n
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let s = try required(inputs, 0)
        guard constants.count > 2, let a = constants[0], let b = constants[1], let c = constants[2] else {
            throw LoupeError.unsupported("Range needs constant start, limit and delta inputs")
        }
        return [TensorType(s.dtype, [try Self.count(a, b, c)])]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let a = try required(inputs, 0), b = try required(inputs, 1), c = try required(inputs, 2)
        guard a.dtype == b.dtype, a.dtype == c.dtype else {
            throw LoupeError.invalid("Range inputs have dtypes \(a.dtype.name), \(b.dtype.name), \(c.dtype.name)")
        }
        let n = try Self.count(a, b, c)
        if a.isFloat {
            let s = a.floats[0], d = c.floats[0]
            return [Tensor(shape: [n], floats: (0..<n).map { s + Float($0) * d }, dtype: a.dtype)]
        }
        let s = a.ints[0], d = c.ints[0]
        return [Tensor(shape: [n], ints: (0..<n).map { a.dtype.wrap(s &+ Int64($0) &* d) }, dtype: a.dtype)]
    }

    /// Backward: output k = start + k·delta, so for float inputs ∂/∂start = Σ g and
    /// ∂/∂delta = Σ k·g; `limit` only sets the length (a step function): zero gradient.
    /// Integer inputs get none.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        var result = [Tensor?](repeating: nil, count: inputs.count)
        guard let a = inputs.first ?? nil, a.isFloat else { return result }
        let g = try Movement.gradient(gradients, 0, shape: outputs[0].shape)
        var sum = 0.0, weighted = 0.0
        for (k, v) in g.floats.enumerated() {
            sum += Double(v)
            weighted += Double(k) * Double(v)
        }
        for (i, value) in [sum, 0, weighted].enumerated() where i < inputs.count && i < wanted.count && wanted[i] {
            guard let t = inputs[i] else { continue }
            var d = try Tensor(zeros: t.shape)
            if t.count > 0 { d.floats[0] = Float(value) }
            result[i] = d
        }
        return result
    }
}
