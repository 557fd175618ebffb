import LoupeTensor

/// ConvTranspose: Y[N, M, out...] from X[N, C, in...] and W[C, M/group, k...], the adjoint
/// of Conv with respect to its input, plus B[M]. Output size per spatial dimension:
/// `stride * (in - 1) + output_padding + (k - 1) * dilation + 1 - padBegin - padEnd`, or
/// `output_shape` when given (then, without explicit pads, the total padding is derived
/// and split as the spec says: the odd unit at the end for SAME_UPPER, at the beginning
/// otherwise). With SAME_UPPER/SAME_LOWER and no `output_shape`, out = in * stride.
public struct ConvTranspose: Operator {
    public static let opType = "ConvTranspose"
    let attrs: ConvAttributes
    let outputPadding: [Int]?
    let outputShape: [Int]?

    public init(_ context: OpContext) throws {
        attrs = try ConvAttributes(context, op: "ConvTranspose")
        outputPadding = try context.attributes.ints("output_padding")
        outputShape = try context.attributes.ints("output_shape")
    }

    func resolve(_ x: [Int], _ w: [Int], _ b: [Int]?) throws -> ConvGeometry {
        try checkImageRank("ConvTranspose", "X", x)
        guard w.count == x.count else {
            throw LoupeError.shape("ConvTranspose: W \(describe(w)) should have the rank of X \(describe(x))")
        }
        let group = attrs.group
        guard x[1] == w[0], x[1] % group == 0 else {
            throw LoupeError.shape("ConvTranspose: X \(describe(x)) has \(x[1]) channels but W \(describe(w)) expects \(w[0]) (a multiple of group \(group))")
        }
        let M = w[1] * group
        if let b, b != [M] {
            throw LoupeError.shape("ConvTranspose: B \(describe(b)) should be [\(M)] for W \(describe(w)) and group \(group)")
        }
        let r = x.count - 2
        let input = Array(x[2...])
        let k = try attrs.kernel(weightKernel: Array(w[2...]), rank: r)
        let s = try attrs.perDim(attrs.strides, "strides", rank: r)
        let d = try attrs.perDim(attrs.dilations, "dilations", rank: r)
        var op = [Int](repeating: 0, count: r)
        if let o = outputPadding {
            guard o.count == r, o.allSatisfy({ $0 >= 0 && $0 <= 1 << 31 }) else {
                throw LoupeError.shape("ConvTranspose: output_padding \(describe(o)) should have \(r) non-negative values")
            }
            op = o
        }
        var wanted: [Int]? = nil
        if let os = outputShape {
            guard os.count == r || os.count == r + 2, os.allSatisfy({ $0 >= 0 && $0 <= 1 << 31 }) else {
                throw LoupeError.shape("ConvTranspose: output_shape \(describe(os)) should have \(r) values from 0 to 2^31")
            }
            wanted = Array(os.suffix(r))
        }
        let same = attrs.autoPad == "SAME_UPPER" || attrs.autoPad == "SAME_LOWER"
        var (pb, pe) = try attrs.explicitPads(rank: r)
        if attrs.autoPad == "VALID" { pb = pb.map { _ in 0 }; pe = pb }
        var out = [Int](repeating: 0, count: r)
        for i in 0..<r {
            let full = s[i] * (input[i] - 1) + op[i] + (k[i] - 1) * d[i] + 1
            if wanted != nil || (same && attrs.pads == nil) {
                out[i] = wanted?[i] ?? input[i] * s[i]
                if attrs.pads == nil {
                    let total = full - out[i]
                    let half = floorDivide(total, 2)
                    pb[i] = attrs.autoPad == "SAME_UPPER" ? half : total - half
                    pe[i] = total - pb[i]
                }
            } else {
                out[i] = full - pb[i] - pe[i]
            }
            guard out[i] >= 0 else {
                throw LoupeError.shape("ConvTranspose: output size \(out[i]) along spatial dimension \(i) is negative (X \(describe(x)), W \(describe(w)), pads \(describe(pb + pe)))")
            }
        }
        try Tensor.checkedCount([x[0], M] + out)
        return ConvGeometry(input: out, kernel: k, strides: s, dilations: d, padsBegin: pb, padsEnd: pe, output: input)
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0), w = try required(inputs, 1)
        let g = try resolve(x.shape, w.shape, optionalInput(inputs, 2)?.shape)
        return [TensorType(x.dtype, [x.shape[0], w.shape[1] * attrs.group] + g.input)]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try float(inputs, 0), w = try float(inputs, 1)
        let b = optionalInput(inputs, 2)
        let g = try resolve(x.shape, w.shape, b?.shape)
        let N = x.shape[0], C = x.shape[1], M = w.shape[1] * attrs.group
        var y = try x.floats.withUnsafeBufferPointer { px in
            try w.floats.withUnsafeBufferPointer { pw in
                try withOptionalFloats(b) { pb in
                    try Tensor(shape: [N, M] + g.input) { py in
                        guard let yp = py.baseAddress else { return }
                        guard let xp = px.baseAddress, let wp = pw.baseAddress else {
                            for i in 0..<py.count { py[i] = pb?[(i / max(g.inputSize, 1)) % M] ?? 0 }
                            return
                        }
                        if let g2 = g.as2D {
                            try convTranspose2d(x: xp, batch: N, channels: C, w: wp, outChannels: M, group: attrs.group,
                                                bias: pb, g2, y: yp)
                        } else {
                            convTransposeNdNaive(x: xp, batch: N, channels: C, w: wp, outChannels: M, group: attrs.group,
                                                 bias: pb, g, y: yp)
                        }
                    }
                }
            }
        }
        y.dtype = x.dtype
        return [y]
    }

    /// The adjoint of a convolution's data gradient: dX is the forward convolution of dY with
    /// W, dW the convolution weight gradient with dY as input and X as output gradient, dB
    /// the sum of dY. Each only when wanted; 3-D and above through the naive N-d loops.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        let x = try float(inputs, 0), w = try float(inputs, 1)
        let b = optionalInput(inputs, 2)
        let g = try resolve(x.shape, w.shape, b?.shape)
        let N = x.shape[0], C = x.shape[1], M = w.shape[1] * attrs.group, group = attrs.group
        var result = [Tensor?](repeating: nil, count: inputs.count)
        guard let gy = gradients.first ?? nil else { return try zeroInputGradients(inputs, wanted) }
        try gy.floats.withUnsafeBufferPointer { pg in
            guard let gp = pg.baseAddress else { result = try zeroInputGradients(inputs, wanted); return }
            if isGradientWanted(wanted, 0) {
                result[0] = try w.floats.withUnsafeBufferPointer { pw in
                    try Tensor(shape: x.shape) { px in
                        guard let dx = px.baseAddress else { return }
                        guard let wp = pw.baseAddress else { px.initialize(repeating: 0); return }
                        if let g2 = g.as2D {
                            try conv2d(x: gp, batch: N, channels: M, w: wp, outChannels: C, group: group, bias: nil, g2, y: dx)
                        } else {
                            convNdNaive(x: gp, batch: N, channels: M, w: wp, outChannels: C, group: group, bias: nil, g, y: dx)
                        }
                    }
                }
            }
            if isGradientWanted(wanted, 1) {
                result[1] = try x.floats.withUnsafeBufferPointer { px in
                    try Tensor(shape: w.shape) { pw in
                        guard let dw = pw.baseAddress else { return }
                        guard let xp = px.baseAddress else { pw.initialize(repeating: 0); return }
                        if let g2 = g.as2D {
                            try conv2dBackwardWeight(x: gp, batch: N, channels: M, dy: xp, outChannels: C, group: group, g2, dw: dw)
                        } else {
                            convNdBackwardWeightNaive(x: gp, batch: N, channels: M, dy: xp, outChannels: C, group: group, g, dw: dw)
                        }
                    }
                }
            }
            if b != nil, isGradientWanted(wanted, 2) {
                result[2] = try Tensor(shape: [M]) { pb in
                    guard let db = pb.baseAddress else { return }
                    convBackwardBias(dy: gp, batch: N, channels: M, plane: g.inputSize, db: db)
                }
            }
        }
        return result
    }
}
