import LoupeTensor

/// Clip: Y = min(max(X, min), max). Before opset 11 the bounds are the float attributes `min`
/// and `max` (defaults: the lowest and highest finite float); from 11 they are the optional
/// scalar inputs 1 and 2 (absent = unbounded), and from 12 integer tensors are allowed.
/// With min > max every element becomes max, as in NumPy's clip. NaN stays NaN.
public struct Clip: Operator {
    public static let opType = "Clip"
    let boundsAreInputs: Bool
    let minAttribute: Float
    let maxAttribute: Float

    public init(_ context: OpContext) throws {
        boundsAreInputs = context.opset >= 11
        minAttribute = try context.attributes.float("min", -Float.greatestFiniteMagnitude)
        maxAttribute = try context.attributes.float("max", Float.greatestFiniteMagnitude)
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        for i in 1..<min(inputs.count, 3) {
            if let b = inputs[i], b.dtype != x.dtype {
                throw LoupeError.shape("Clip: bound \(i) is \(b), X is \(x); dtypes differ")
            }
        }
        return [x]
    }

    /// Bound input `i` (1 = min, 2 = max) if present; it must hold one value.
    func bound(_ inputs: [Tensor?], _ i: Int) throws -> Tensor? {
        guard boundsAreInputs, i < inputs.count, let b = inputs[i] else { return nil }
        guard b.count == 1 else {
            throw LoupeError.shape("Clip: bound input \(i) must be a scalar, got \(describe(b.shape))")
        }
        return b
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        let lo = try bound(inputs, 1), hi = try bound(inputs, 2)
        if x.isFloat {
            let l = boundsAreInputs ? lo?.floatValues[0] ?? -.infinity : minAttribute
            let h = boundsAreInputs ? hi?.floatValues[0] ?? .infinity : maxAttribute
            return [try mapFloat(x) { v in
                let t = v < l ? l : v
                return t > h ? h : t
            }]
        }
        guard !boundsAreInputs || ((lo?.isFloat ?? false) == false && (hi?.isFloat ?? false) == false) else {
            throw LoupeError.shape("Clip: X is \(x.dtype.name) but a bound is floating point")
        }
        let dt = x.dtype
        // Compare in the dtype's order (uint64 above Int64.max included); see `orderKey`.
        let l = lo.map { orderKey($0.ints[0], dt) } ?? Int64.min
        let h = hi.map { orderKey($0.ints[0], dt) } ?? Int64.max
        return [mapInt(x) { v in
            let k = orderKey(v, dt)
            let t = k < l ? l : k
            return orderKey(t > h ? h : t, dt)
        }]
    }

    /// Backward: g where lo < x < hi. With lo = 0 this is ReLU6, a rectifier: its lower bound
    /// follows `rules.relu` (deconvnet and guided rules), its upper bound keeps the true mask
    /// x < hi under every rule. The bounds get no gradient.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        var r = noGradients(inputs)
        guard isWanted(wanted, 0), let x = inputs[0], x.isFloat,
              let g = try incomingGradient(gradients, 0, shape: x.shape, Self.opType) else { return r }
        let lo = boundsAreInputs ? try bound(inputs, 1)?.floatValues[0] ?? -.infinity : minAttribute
        let hi = boundsAreInputs ? try bound(inputs, 2)?.floatValues[0] ?? .infinity : maxAttribute
        func masked(_ rule: ReluRule) -> Tensor {
            Tensor(shape: x.shape, floats: buildFloats(x.count) { i in
                let v = x.floats[i]
                guard v < hi else { return 0 }
                return reluGradient(g.floats[i], active: v > lo, rule)
            })
        }
        let rule = lo == 0 ? rules.relu : .standard
        if rule == .redirected {
            // Lucid's redirected ReLU6: the true gradient unless none of it passes.
            let standard = masked(.standard)
            if standard.floats.contains(where: { $0 != 0 }) { r[0] = standard; return r }
        }
        r[0] = masked(rule)
        return r
    }
}
