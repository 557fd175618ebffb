import LoupeTensor

/// MaxPool: Y[N, C, out...] = max of X over each window (padding never wins). Attributes
/// kernel_shape, strides, pads, dilations, ceil_mode, auto_pad. The optional Indices output
/// (int64, flat indices into X; storage_order = 1 flattens the spatial dimensions
/// column-major) is computed by the direct N-d kernel when the node asks for it.
public struct MaxPool: Operator {
    public static let opType = "MaxPool"
    let attrs: ConvAttributes
    let storageOrder: Int
    let withIndices: Bool
    /// Carried inputs pool through oneDNN in their layout; the output stays carried when the
    /// plan allows (`carriedLayoutAttribute`).
    let carryOutput: Bool
    let pooling = PoolingPlan()

    public init(_ context: OpContext) throws {
        attrs = try ConvAttributes(context, op: "MaxPool")
        storageOrder = try context.attributes.int("storage_order", 0)
        withIndices = context.node.outputs.count > 1
        carryOutput = carriesLayout(context)
    }

    public func acceptsCarried(_ inputs: [Tensor?]) -> Bool {
        guard !withIndices, let x = inputs.first ?? nil, x.rank == 4, let g = try? attrs.poolGeometry(x.shape) else { return false }
        return PoolingPlan.supports(.max, g)
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let y = try attrs.inferPool(try required(inputs, 0))
        return withIndices ? y + [TensorType(.int64, y[0].shape)] : y
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        if x.isCarried { return [try pooling.forward(x: x, kind: .max, try attrs.poolGeometry(x.shape), carry: carryOutput)] }
        guard withIndices else { return [try attrs.runPool(.max, x)] }
        guard x.isFloat else {
            throw LoupeError.unsupported("MaxPool: the Indices output needs a float input, not \(x.dtype.name)")
        }
        let g = try attrs.poolGeometry(x.shape)
        let shape = Array(x.shape[0..<2]) + g.output
        let n = try Tensor.checkedCount(shape)
        var indices = [Int64](repeating: 0, count: n)
        var y = try x.floats.withUnsafeBufferPointer { px in
            try indices.withUnsafeMutableBufferPointer { pi in
                try Tensor(shape: shape) { py in
                    guard let yp = py.baseAddress, let xp = px.baseAddress, let ip = pi.baseAddress else { return }
                    maxPoolWithIndices(x: xp, planes: x.shape[0] * x.shape[1], g, columnMajor: storageOrder == 1,
                                       y: yp, indices: ip)
                }
            }
        }
        y.dtype = x.dtype
        return [y, Tensor(shape: shape, ints: indices, dtype: .int64)]
    }

    /// Each output's gradient goes to its maximal tap (the first in scan order on ties, as
    /// PyTorch). The Indices output carries no gradient; integer inputs get none.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        let x = try required(inputs, 0)
        guard isGradientWanted(wanted, 0), x.isFloat else { return [nil] }
        return [try attrs.poolGradient(.max, x, outputs[0], gradients.first ?? nil)]
    }
}

extension ConvAttributes {
    /// The gradient of a pooling op with respect to its input X, from the forward output `y`
    /// and its gradient `gy` (nil meaning zero).
    func poolGradient(_ kind: PoolKind, _ x: Tensor, _ y: Tensor, _ gy: Tensor?) throws -> Tensor {
        guard let gy else { return try Tensor(zeros: x.shape) }
        let g = try poolGeometry(x.shape)
        let planes = x.shape[0] * x.shape[1]
        return try x.floats.withUnsafeBufferPointer { px in
            try y.floats.withUnsafeBufferPointer { py in
                try gy.floats.withUnsafeBufferPointer { pg in
                    try Tensor(shape: x.shape) { pdx in
                        guard let dx = pdx.baseAddress else { return }
                        guard let xp = px.baseAddress, let yp = py.baseAddress, let gp = pg.baseAddress else {
                            pdx.initialize(repeating: 0); return
                        }
                        poolBackward(kind, x: xp, y: yp, dy: gp, planes: planes, g, dx: dx)
                    }
                }
            }
        }
    }
}

/// The gradient of GlobalAveragePool / GlobalMaxPool with respect to X.
func globalPoolGradient(max: Bool, _ x: Tensor, _ gy: Tensor?) throws -> Tensor {
    guard let gy else { return try Tensor(zeros: x.shape) }
    let planes = x.shape[0] * x.shape[1]
    let size = x.shape[2...].reduce(1, *)
    return try x.floats.withUnsafeBufferPointer { px in
        try gy.floats.withUnsafeBufferPointer { pg in
            try Tensor(shape: x.shape) { pdx in
                guard let dx = pdx.baseAddress, let xp = px.baseAddress, let gp = pg.baseAddress else { return }
                globalPoolBackward(max: max, x: xp, dy: gp, planes: planes, size: size, dx: dx)
            }
        }
    }
}
