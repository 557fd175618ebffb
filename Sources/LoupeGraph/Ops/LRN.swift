import LoupeTensor

/// LRN: Y = X / (bias + alpha / size * Σ X²)^beta, the sum over `size` neighbouring channels
/// of X[N, C, spatial...] (see `lrn`).
public struct LRN: Operator {
    public static let opType = "LRN"
    let size: Int
    let alpha: Float, beta: Float, bias: Float

    public init(_ context: OpContext) throws {
        let a = context.attributes
        guard let s = try a.int("size") else { throw LoupeError.invalid("LRN: attribute 'size' is required") }
        guard s >= 1 else { throw LoupeError.invalid("LRN: size \(s) must be positive") }
        size = s
        alpha = try a.float("alpha", 1e-4)
        beta = try a.float("beta", 0.75)
        bias = try a.float("bias", 1)
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        try checkImageRank("LRN", "X", x.shape, minRank: 2)
        return [x]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try float(inputs, 0)
        try checkImageRank("LRN", "X", x.shape, minRank: 2)
        let N = x.shape[0], C = x.shape[1], S = x.shape[2...].reduce(1, *)
        var y = try x.floats.withUnsafeBufferPointer { px in
            try Tensor(shape: x.shape) { py in
                guard let yp = py.baseAddress, let xp = px.baseAddress, py.count > 0 else { return }
                lrn(x: xp, batch: N, channels: C, spatial: S, size: size, alpha: alpha, beta: beta, bias: bias, y: yp)
            }
        }
        y.dtype = x.dtype
        return [y]
    }

    /// dX through both the numerator and the neighbours' sums of squares (see `lrnBackward`).
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        guard isGradientWanted(wanted, 0) else { return [nil] }
        let x = try float(inputs, 0)
        guard let gy = gradients.first ?? nil else { return [try Tensor(zeros: x.shape)] }
        let N = x.shape[0], C = x.shape[1], S = x.shape[2...].reduce(1, *)
        return [try x.floats.withUnsafeBufferPointer { px in
            try gy.floats.withUnsafeBufferPointer { pg in
                try Tensor(shape: x.shape) { pdx in
                    guard let dx = pdx.baseAddress, let xp = px.baseAddress, let gp = pg.baseAddress else { return }
                    lrnBackward(x: xp, dy: gp, batch: N, channels: C, spatial: S, size: size, alpha: alpha, beta: beta,
                                bias: bias, dx: dx)
                }
            }
        }]
    }
}
