import LoupeTensor

/// Conv: Y[N, M, out...] = X[N, C, in...] ⋆ W[M, C/group, k...] + B[M] (cross-correlation),
/// any spatial rank: 1-D and 2-D through `ConvolutionPlan` (oneDNN, or im2col + GEMM with
/// `LOUPE_CONV=blas`), 3-D and above through the direct N-d loops.
public struct Conv: Operator {
    public static let opType = "Conv"
    let attrs: ConvAttributes
    /// A Relu or Clip folded in by `fuseActivations` (inference and gradient plans).
    let clip: (Float, Float)?
    /// A residual Add folded in by `fuseResidualAdds` (inference and gradient plans): input 3 is
    /// added to the output before the clip.
    let fusedAdd: Bool
    /// The plan lets the output stay in the primitive's layout (`carriedLayoutAttribute`,
    /// set by `markCarriedLayouts` when every reader takes a carried input).
    let carryOutput: Bool
    /// This node's primitives and prepared weights; the op lives as long as its plan.
    let plan = ConvolutionPlan()
    public init(_ context: OpContext) throws {
        attrs = try ConvAttributes(context, op: "Conv")
        clip = fusedClip(context)
        fusedAdd = hasFusedAdd(context)
        carryOutput = carriesLayout(context)
    }

    /// X (input 0) and the residual addend (input 3) may arrive carried, for 2-D convolutions.
    public func acceptsCarried(_ inputs: [Tensor?]) -> Bool {
        guard let x = inputs.first ?? nil, x.rank == 4 else { return false }
        return inputs.count < 2 || !(inputs[1]?.isCarried ?? false) && !(optionalInput(inputs, 2)?.isCarried ?? false)
    }

    func resolve(_ x: [Int], _ w: [Int], _ b: [Int]?) throws -> ConvGeometry {
        try checkImageRank("Conv", "X", x)
        guard w.count == x.count else {
            throw LoupeError.shape("Conv: W \(describe(w)) should have the rank of X \(describe(x))")
        }
        let group = attrs.group
        guard x[1] == w[1] * group else {
            throw LoupeError.shape("Conv: X \(describe(x)) has \(x[1]) channels but W \(describe(w)) expects \(w[1])×group \(group)")
        }
        guard w[0] % group == 0 else {
            throw LoupeError.shape("Conv: W \(describe(w)) has \(w[0]) output channels, not a multiple of group \(group)")
        }
        if let b, b != [w[0]] {
            throw LoupeError.shape("Conv: B \(describe(b)) should be [\(w[0])] for W \(describe(w))")
        }
        let kernel = try attrs.kernel(weightKernel: Array(w[2...]), rank: x.count - 2)
        return try attrs.geometry(input: Array(x[2...]), kernel: kernel)
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0), w = try required(inputs, 1)
        let g = try resolve(x.shape, w.shape, optionalInput(inputs, 2)?.shape)
        return [TensorType(x.dtype, [x.shape[0], w.shape[0]] + g.output)]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        var x = try float(inputs, 0)
        let w = try float(inputs, 1)
        let b = optionalInput(inputs, 2)
        let g = try resolve(x.shape, w.shape, b?.shape)
        let N = x.shape[0], C = x.shape[1], M = w.shape[0]
        var addend: Tensor? = fusedAdd ? try float(inputs, 3) : nil
        if let addend, addend.shape != [N, M] + g.output {
            throw LoupeError.shape("Conv: the fused residual addend \(describe(addend.shape)) should have the output's shape \(describe([N, M] + g.output))")
        }
        if x.rank == 4, carryOutput || x.isCarried || addend?.isCarried == true {
            // Inference plans with carried layouts (docs/engine.md): no reorder where the
            // layouts already agree, the output carried when the plan allows.
            let y = try withOptionalFloats(b) { pb in
                try plan.forward(x: x, weights: w.floats, outChannels: M, group: attrs.group, bias: pb, g, clip: clip,
                                 addend: addend, carry: carryOutput, shape: [N, M] + g.output)
            }
            if var y {
                y.dtype = x.dtype
                return [y]
            }
            x = try x.plain()
            addend = try addend?.plain()
        }
        var finished = true   // the plan applies the fused add and clip itself
        var y = try x.floats.withUnsafeBufferPointer { px in
            try w.floats.withUnsafeBufferPointer { pw in
                try withOptionalFloats(b) { pb in
                    try withOptionalFloats(addend) { pa in
                        try Tensor(shape: [N, M] + g.output) { py in
                            guard let yp = py.baseAddress, let xp = px.baseAddress, let wp = pw.baseAddress else {
                                py.initialize(repeating: 0); finished = false; return
                            }
                            if let g2 = g.as2D {
                                try plan.forward(x: xp, batch: N, channels: C, weights: w.floats, outChannels: M,
                                                 group: attrs.group, bias: pb, g2, clip: clip, addend: pa, y: yp)
                            } else {
                                convNdNaive(x: xp, batch: N, channels: C, w: wp, outChannels: M, group: attrs.group,
                                            bias: pb, g, y: yp)
                                finished = false
                            }
                        }
                    }
                }
            }
        }
        y.dtype = x.dtype
        if !finished {
            if let addend { y.floats.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] += addend.floats[i] } } }
            applyFusedClip(&y, clip)
        }
        return [y]
    }

    /// dX by the data-gradient kernel (`ConvolutionPlan.backwardData`: oneDNN, or GEMM +
    /// col2im and a direct kernel for depthwise), dW by
    /// im2col + GEMM, dB by summing dY; each only when wanted (explanations want dX alone).
    /// 3-D and above use the naive N-d loops. In a fused gradient plan the fused activation's
    /// rule applies to dY first (read from the output), and the fused residual addend gets
    /// that dY as it is.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        let x = try float(inputs, 0), w = try float(inputs, 1)
        let b = optionalInput(inputs, 2)
        let g = try resolve(x.shape, w.shape, b?.shape)
        let N = x.shape[0], C = x.shape[1], M = w.shape[0], group = attrs.group
        var result = [Tensor?](repeating: nil, count: inputs.count)
        guard var gy = gradients.first ?? nil else { return try zeroInputGradients(inputs, wanted) }
        let y = try required(outputs, 0)
        if x.rank == 4, gy.isCarried || x.isCarried || (clip != nil && y.isCarried),
           !isGradientWanted(wanted, 1), !(b != nil && isGradientWanted(wanted, 2)) {
            // A fused gradient plan (docs/engine.md): dY stays in oneDNN's layout, masked there,
            // and dX is carried when X was.
            if let r = try plan.backwardData(dy: gy, along: clip == nil ? [] : [y],
                                             prepare: { d, a in try clip.map { try fusedClipGradient(d, output: a[0], $0, rules) } ?? d },
                                             weights: w.floats, channels: C, group: group, g, carry: x.isCarried, shape: x.shape) {
                if isGradientWanted(wanted, 0) { result[0] = r.dx }
                if fusedAdd, isGradientWanted(wanted, 3) { result[3] = r.dy }
                return result
            }
        }
        gy = try gy.plain()
        if let clip { gy = try fusedClipGradient(gy, output: try y.plain(), clip, rules) }
        if fusedAdd, isGradientWanted(wanted, 3) { result[3] = gy }
        try gy.floats.withUnsafeBufferPointer { pg in
            guard let gp = pg.baseAddress else { result = try zeroInputGradients(inputs, wanted); return }
            if isGradientWanted(wanted, 0) {
                result[0] = try w.floats.withUnsafeBufferPointer { pw in
                    try Tensor(shape: x.shape) { px in
                        guard let dx = px.baseAddress else { return }
                        guard let wp = pw.baseAddress else { px.initialize(repeating: 0); return }
                        if let g2 = g.as2D {
                            try plan.backwardData(dy: gp, batch: N, outChannels: M, weights: w.floats, channels: C,
                                                  group: group, g2, dx: dx)
                        } else {
                            convNdBackwardDataNaive(dy: gp, batch: N, outChannels: M, w: wp, channels: C, group: group, g, dx: dx)
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
                            try conv2dBackwardWeight(x: xp, batch: N, channels: C, dy: gp, outChannels: M, group: group, g2, dw: dw)
                        } else {
                            convNdBackwardWeightNaive(x: xp, batch: N, channels: C, dy: gp, outChannels: M, group: group, g, dw: dw)
                        }
                    }
                }
            }
            if b != nil, isGradientWanted(wanted, 2) {
                result[2] = try Tensor(shape: [M]) { pb in
                    guard let db = pb.baseAddress else { return }
                    convBackwardBias(dy: gp, batch: N, channels: M, plane: g.outputSize, db: db)
                }
            }
        }
        return result
    }
}

extension Conv {
    /// X's values only for dW (its shape is enough for dX); the residual addend never; the
    /// output, for a fused activation's mask, in whatever layout it has (`backward` brings it
    /// to dY's).
    public func backwardReads(input k: Int, wanted: [Bool]) -> Bool {
        switch k {
        case 0: return isGradientWanted(wanted, 1)
        case 3: return false
        default: return true
        }
    }
    public func backwardReads(output k: Int) -> Bool { false }
    public var acceptsCarriedGradients: Bool { true }
}

/// True when the gradient of input `i` is wanted.
@inline(__always)
func isGradientWanted(_ wanted: [Bool], _ i: Int) -> Bool { i < wanted.count && wanted[i] }

/// Zero gradients for the wanted float inputs (the gradient of the output was nil, meaning zero).
func zeroInputGradients(_ inputs: [Tensor?], _ wanted: [Bool]) throws -> [Tensor?] {
    try inputs.indices.map { i in
        guard isGradientWanted(wanted, i), let t = inputs[i], t.isFloat else { return nil }
        return try Tensor(zeros: t.shape)
    }
}
