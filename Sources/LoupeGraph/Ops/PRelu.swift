import LoupeTensor

/// PRelu: Y = X for X ≥ 0, slope · X otherwise. From opset 7 `slope` broadcasts to X
/// (unidirectionally); before 7 a 1-D slope of X's channel count applies per channel
/// (dimension 1), which is rewritten here as a [C, 1, …, 1] slope.
public struct PRelu: Operator {
    public static let opType = "PRelu"
    let legacyChannelSlope: Bool
    public init(_ context: OpContext) throws { legacyChannelSlope = context.opset < 7 }

    /// The slope's shape aligned for NumPy broadcasting against X, which must not grow X.
    func slopeShape(_ x: [Int], _ slope: [Int]) throws -> [Int] {
        var s = slope
        if legacyChannelSlope, s.count == 1, x.count >= 2, s[0] == x[1], s[0] != 1 {
            s += [Int](repeating: 1, count: x.count - 2)
        }
        guard (try? broadcastShape(x, s)) == x else {
            throw LoupeError.shape("PRelu: slope \(describe(slope)) does not broadcast to X \(describe(x))")
        }
        return s
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0), slope = try required(inputs, 1)
        guard x.dtype == slope.dtype else {
            throw LoupeError.shape("PRelu: X is \(x), slope is \(slope); dtypes differ")
        }
        _ = try slopeShape(x.shape, slope.shape)
        return [x]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        var slope = try required(inputs, 1)
        slope.shape = try slopeShape(x.shape, slope.shape)
        guard x.isFloat == slope.isFloat else {
            throw LoupeError.shape("PRelu: X is \(x.dtype.name), slope is \(slope.dtype.name)")
        }
        if x.isFloat {
            var y = try broadcastFloat(x, slope) { v, a in v < 0 ? a * v : v }
            y.dtype = x.dtype
            return [y]
        }
        return [try broadcastInt(x, slope, dtype: x.dtype) { v, a in v < 0 ? a &* v : v }]
    }

    /// Backward: dX = g for x > 0, g · slope otherwise (a ReLU under the deconvnet and guided
    /// rules); dSlope = Σ g · x over x < 0, summed to the slope's shape.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        var r = noGradients(inputs)
        guard let x = inputs[0], x.isFloat, inputs.count > 1, let slope0 = inputs[1], slope0.isFloat,
              let g = try incomingGradient(gradients, 0, shape: x.shape, Self.opType) else { return r }
        var slope = slope0
        slope.shape = try slopeShape(x.shape, slope0.shape)
        let a = try expandedFloats(slope, to: x.shape)
        if isWanted(wanted, 0) {
            r[0] = Tensor(shape: x.shape, floats: buildFloats(x.count) { i in
                leakyGradient(g.floats[i], x.floats[i], negativeSlope: a[i], rules.relu)
            })
        }
        if isWanted(wanted, 1) {
            let full = Tensor(shape: x.shape, floats: buildFloats(x.count) { i in x.floats[i] < 0 ? g.floats[i] * x.floats[i] : 0 })
            r[1] = try operandGradient(full, aligned: slope.shape, shape: slope0.shape)
        }
        return r
    }
}
