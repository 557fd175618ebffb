import LoupeTensor

/// Where: Z = condition ? X : Y element-wise, the three broadcast together (opset 9+).
/// `condition` is bool; X and Y share any dtype.
public struct Where: Operator {
    public static let opType = "Where"
    public init(_ context: OpContext) throws {}

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let c = try required(inputs, 0)
        guard !c.dtype.isFloatingPoint else { throw LoupeError.shape("Where: condition is \(c); expected bool") }
        let xy = try inferVariadic([try required(inputs, 1), try required(inputs, 2)], Self.opType)
        return [TensorType(xy.dtype, try broadcastShape(c.shape, xy.shape))]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let c = try truthValues(inputs, 0, Self.opType)
        let x = try required(inputs, 1), y = try required(inputs, 2)
        guard x.dtype == y.dtype else {
            throw LoupeError.shape("Where: X is \(x.dtype.name), Y is \(y.dtype.name); dtypes differ")
        }
        let shape = try broadcastShape(c.shape, try broadcastShape(x.shape, y.shape))
        let n = try Tensor.checkedCount(shape)
        let sc = broadcastStrides(c.shape, to: shape)
        let sx = broadcastStrides(x.shape, to: shape), sy = broadcastStrides(y.shape, to: shape)
        return c.ints.withUnsafeBufferPointer { pc in
            if x.isFloat {
                var out = [Float](repeating: 0, count: n)
                x.floats.withUnsafeBufferPointer { px in
                    y.floats.withUnsafeBufferPointer { py in
                        out.withUnsafeMutableBufferPointer { po in
                            forEachBroadcast3(shape, sc, sx, sy) { o, ic, ix, iy in po[o] = pc[ic] != 0 ? px[ix] : py[iy] }
                        }
                    }
                }
                return [Tensor(shape: shape, floats: out, dtype: x.dtype)]
            }
            var out = [Int64](repeating: 0, count: n)
            x.ints.withUnsafeBufferPointer { px in
                y.ints.withUnsafeBufferPointer { py in
                    out.withUnsafeMutableBufferPointer { po in
                        forEachBroadcast3(shape, sc, sx, sy) { o, ic, ix, iy in po[o] = pc[ic] != 0 ? px[ix] : py[iy] }
                    }
                }
            }
            return [Tensor(shape: shape, ints: out, dtype: x.dtype)]
        }
    }

    /// Backward: g to X where the condition holds and to Y elsewhere, each summed over its
    /// broadcast dimensions; none to the condition.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        var r = noGradients(inputs)
        guard inputs.count == 3, let x = inputs[1], let y = inputs[2], x.isFloat, let out = outputs.first,
              let g = try incomingGradient(gradients, 0, shape: out.shape, Self.opType) else { return r }
        let c = try truthValues(inputs, 0, Self.opType)
        var cf = Tensor(shape: c.shape, floats: c.ints.map { $0 != 0 ? 1 : 0 })
        cf.dtype = .float32
        let mask = try expandedFloats(cf, to: out.shape)
        if isWanted(wanted, 1) {
            let full = Tensor(shape: out.shape, floats: buildFloats(out.count) { i in mask[i] != 0 ? g.floats[i] : 0 })
            r[1] = try operandGradient(full, aligned: x.shape, shape: x.shape)
        }
        if isWanted(wanted, 2) {
            let full = Tensor(shape: out.shape, floats: buildFloats(out.count) { i in mask[i] == 0 ? g.floats[i] : 0 })
            r[2] = try operandGradient(full, aligned: y.shape, shape: y.shape)
        }
        return r
    }
}
