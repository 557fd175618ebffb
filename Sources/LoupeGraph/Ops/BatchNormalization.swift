import LoupeTensor

/// BatchNormalization, inference mode: Y = (X - mean) / sqrt(var + epsilon) * scale + B,
/// per channel of X[N, C, ...] (rank ≥ 2). Opset < 9 `spatial = 0` takes statistics of
/// shape [C, spatial...]; opset < 7 `is_test`/`consumed_inputs` are accepted and ignored.
/// `training_mode = 1` is unsupported. Optional outputs of older opsets (running and saved
/// mean/variance) are returned as the unchanged input statistics, which is what inference
/// leaves them.
public struct BatchNormalization: Operator {
    public static let opType = "BatchNormalization"
    let epsilon: Float
    let spatial: Bool
    let outputCount: Int

    public init(_ context: OpContext) throws {
        let a = context.attributes
        epsilon = try a.float("epsilon", 1e-5)
        spatial = context.opset < 9 ? try a.int("spatial", 1) != 0 : true
        _ = try a.float("momentum", 0.9)
        if try a.int("training_mode", 0) != 0 {
            throw LoupeError.unsupported("BatchNormalization: training_mode = 1 (batch statistics) is not supported; Loupe runs inference only")
        }
        outputCount = context.node.outputs.count
        if context.opset >= 14, outputCount > 1 {
            throw LoupeError.unsupported("BatchNormalization: running mean/var outputs exist only in training mode, which is not supported")
        }
    }

    /// True when statistics are per element ([C, spatial...]) rather than per channel.
    func perElement(_ x: [Int], _ stats: [[Int]]) throws -> Bool {
        guard x.count >= 2 else {
            throw LoupeError.shape("BatchNormalization: X \(describe(x)) should be [N, C, ...] with rank at least 2")
        }
        let C = x[1], S = x[2...].reduce(1, *)
        let names = ["scale", "B", "mean", "var"]
        var elementwise = false
        for (i, s) in stats.enumerated() {
            let n = s.reduce(1, *)
            if n == C && s.count <= 1 { continue }
            if !spatial && n == C * S && S != 1 { elementwise = true; continue }
            throw LoupeError.shape("BatchNormalization: \(names[i]) \(describe(s)) should be [\(C)] for X \(describe(x))")
        }
        if elementwise, !stats.allSatisfy({ $0.reduce(1, *) == C * S }) {
            throw LoupeError.shape("BatchNormalization: statistics \(stats.map(describe)) should all be [\(C)] or all \(describe(Array(x[1...]))) for X \(describe(x))")
        }
        return elementwise
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        let stats = try (1...4).map { try required(inputs, $0) }
        _ = try perElement(x.shape, stats.map(\.shape))
        return [x] + (1..<max(outputCount, 1)).map { stats[2 + ($0 - 1) % 2] }
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try float(inputs, 0)
        let stats = try (1...4).map { try float(inputs, $0) }
        let elementwise = try perElement(x.shape, stats.map(\.shape))
        let N = x.shape[0], C = x.shape[1], S = x.shape[2...].reduce(1, *)
        var y = try x.floats.withUnsafeBufferPointer { px in
            try stats[0].floats.withUnsafeBufferPointer { ps in
            try stats[1].floats.withUnsafeBufferPointer { pb in
            try stats[2].floats.withUnsafeBufferPointer { pm in
            try stats[3].floats.withUnsafeBufferPointer { pv in
                try Tensor(shape: x.shape) { py in
                    guard let yp = py.baseAddress, let xp = px.baseAddress, py.count > 0 else { return }
                    batchNormInference(x: xp, batch: N, channels: C, spatial: S,
                                       scale: ps.baseAddress!, bias: pb.baseAddress!, mean: pm.baseAddress!,
                                       variance: pv.baseAddress!, epsilon: epsilon, perElement: elementwise, y: yp)
                }
            }}}}
        }
        y.dtype = x.dtype
        return [y] + (1..<max(outputCount, 1)).map { stats[2 + ($0 - 1) % 2] }
    }

    /// Inference mode, statistics constant: dX = dY · scale / sqrt(var + eps), and when wanted
    /// dScale, dB, dMean, dVar (see `batchNormInferenceBackward`). The optional outputs of
    /// older opsets pass the mean and variance through, so their gradients add to dMean and
    /// dVar.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        let x = try float(inputs, 0)
        let stats = try (1...4).map { try float(inputs, $0) }
        let elementwise = try perElement(x.shape, stats.map(\.shape))
        let N = x.shape[0], C = x.shape[1], S = x.shape[2...].reduce(1, *)
        let shapes = [x.shape] + stats.map(\.shape)
        // One zeroed buffer per wanted gradient (separate allocations: the kernel writes them together).
        let grads = try (0..<5).map { i -> UnsafeMutableBufferPointer<Float>? in
            guard isGradientWanted(wanted, i) else { return nil }
            let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: try Tensor.checkedCount(shapes[i]))
            b.initialize(repeating: 0)
            return b
        }
        defer { for b in grads { b?.deallocate() } }
        if let gy = gradients.first ?? nil, x.count > 0 {
            x.floats.withUnsafeBufferPointer { px in gy.floats.withUnsafeBufferPointer { pg in
            stats[0].floats.withUnsafeBufferPointer { ps in stats[2].floats.withUnsafeBufferPointer { pm in
            stats[3].floats.withUnsafeBufferPointer { pv in
                batchNormInferenceBackward(x: px.baseAddress!, dy: pg.baseAddress!, batch: N, channels: C, spatial: S,
                                           scale: ps.baseAddress!, mean: pm.baseAddress!, variance: pv.baseAddress!,
                                           epsilon: epsilon, perElement: elementwise,
                                           dx: grads[0]?.baseAddress, dScale: grads[1]?.baseAddress, dBias: grads[2]?.baseAddress,
                                           dMean: grads[3]?.baseAddress, dVar: grads[4]?.baseAddress)
            }}}}}
        }
        // Outputs 1... (opset < 14): mean, var, saved mean, saved var, unchanged.
        for k in stride(from: 1, to: min(gradients.count, outputCount), by: 1) {
            guard let gk = gradients[k], let d = grads[3 + (k - 1) % 2] else { continue }
            for j in 0..<min(gk.count, d.count) { d[j] += gk.floats[j] }
        }
        return inputs.indices.map { i in
            guard i < 5, let v = grads[i] else { return nil }
            return Tensor(shape: shapes[i], floats: Array(v))
        }
    }
}
