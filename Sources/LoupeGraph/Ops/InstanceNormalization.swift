import LoupeTensor

/// InstanceNormalization: Y = scale[c] * (X - mean) / sqrt(var + epsilon) + B[c], with mean
/// and variance of each (image, channel) plane of X[N, C, spatial...].
public struct InstanceNormalization: Operator {
    public static let opType = "InstanceNormalization"
    let epsilon: Float

    public init(_ context: OpContext) throws {
        epsilon = try context.attributes.float("epsilon", 1e-5)
    }

    func check(_ x: [Int], _ scale: [Int], _ b: [Int]) throws {
        try checkImageRank("InstanceNormalization", "input", x)
        guard scale == [x[1]], b == [x[1]] else {
            throw LoupeError.shape("InstanceNormalization: scale \(describe(scale)) and B \(describe(b)) should be [\(x[1])] for input \(describe(x))")
        }
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        try check(x.shape, try required(inputs, 1).shape, try required(inputs, 2).shape)
        return [x]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try float(inputs, 0), s = try float(inputs, 1), b = try float(inputs, 2)
        try check(x.shape, s.shape, b.shape)
        let N = x.shape[0], C = x.shape[1], S = x.shape[2...].reduce(1, *)
        var y = try x.floats.withUnsafeBufferPointer { px in
            try s.floats.withUnsafeBufferPointer { ps in
                try b.floats.withUnsafeBufferPointer { pb in
                    try Tensor(shape: x.shape) { py in
                        guard let yp = py.baseAddress, let xp = px.baseAddress, py.count > 0 else { return }
                        instanceNorm(x: xp, batch: N, channels: C, spatial: S, scale: ps.baseAddress!,
                                     bias: pb.baseAddress!, epsilon: epsilon, y: yp)
                    }
                }
            }
        }
        y.dtype = x.dtype
        return [y]
    }

    /// The full gradient through each plane's mean and variance (see `instanceNormBackward`),
    /// plus dScale and dB when wanted.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        let x = try float(inputs, 0), s = try float(inputs, 1), b = try float(inputs, 2)
        try check(x.shape, s.shape, b.shape)
        let N = x.shape[0], C = x.shape[1], S = x.shape[2...].reduce(1, *)
        let shapes = [x.shape, s.shape, b.shape]
        // One zeroed buffer per wanted gradient (separate allocations: the kernel writes them together).
        let grads = try (0..<3).map { i -> UnsafeMutableBufferPointer<Float>? in
            guard isGradientWanted(wanted, i) else { return nil }
            let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: try Tensor.checkedCount(shapes[i]))
            b.initialize(repeating: 0)
            return b
        }
        defer { for b in grads { b?.deallocate() } }
        if let gy = gradients.first ?? nil, x.count > 0 {
            x.floats.withUnsafeBufferPointer { px in gy.floats.withUnsafeBufferPointer { pg in
            s.floats.withUnsafeBufferPointer { ps in
                instanceNormBackward(x: px.baseAddress!, dy: pg.baseAddress!, batch: N, channels: C, spatial: S,
                                     scale: ps.baseAddress!, epsilon: epsilon, dx: grads[0]?.baseAddress,
                                     dScale: grads[1]?.baseAddress, dBias: grads[2]?.baseAddress)
            }}}
        }
        return inputs.indices.map { i in
            guard i < 3, let v = grads[i] else { return nil }
            return Tensor(shape: shapes[i], floats: Array(v))
        }
    }
}
