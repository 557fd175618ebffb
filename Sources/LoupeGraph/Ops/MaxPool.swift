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

    public init(_ context: OpContext) throws {
        attrs = try ConvAttributes(context, op: "MaxPool")
        storageOrder = try context.attributes.int("storage_order", 0)
        withIndices = context.node.outputs.count > 1
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let y = try attrs.inferPool(try required(inputs, 0))
        return withIndices ? y + [TensorType(.int64, y[0].shape)] : y
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
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
}
