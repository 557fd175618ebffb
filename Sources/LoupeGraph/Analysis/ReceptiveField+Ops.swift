import LoupeTensor

/// The backward rule of each op for receptive fields: given the box of output positions asked
/// for (per output), the box of positions of each input they read (nil: none). Boxes are
/// bounding boxes, exact for the extent of a field: every rule maps the ends of a range
/// monotonically. Window ops read their geometry through the op's own attribute parsing
/// (`ConvAttributes`), Resize through its coordinate transform, so both agree with the executor.
extension ReceptiveFieldAnalysis {
    /// Ops whose output position p reads input position p (numpy broadcasting).
    static let elementwise: Set<String> = [
        "Abs", "Add", "And", "BatchNormalization", "Cast", "CastLike", "Ceil", "Clip", "Div", "Dropout", "Elu",
        "Equal", "Erf", "Exp", "Expand", "Floor", "Gelu", "Greater", "GreaterOrEqual", "HardSigmoid", "HardSwish",
        "Identity", "LeakyRelu", "Less", "LessOrEqual", "Log", "Max", "Mean", "Min", "Mish", "Mul", "Neg", "Not", "Or",
        "PRelu", "Pow", "Reciprocal", "Relu", "Round", "Selu", "Sigmoid", "Sign", "Softplus", "Softsign", "Sqrt",
        "Sub", "Sum", "Tanh", "Where",
    ]
    static let windows: Set<String> = ["Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool"]
    /// Ops whose value depends on shapes only, or that create tensors.
    static let shapeOnly: Set<String> = ["Shape", "Size", "Constant", "ConstantOfShape", "Range"]

    func shape(_ name: String) throws -> [Int] {
        guard let t = types[name] else { throw LoupeError.invalid("tensor '\(name)' has no inferred type") }
        return t.shape
    }

    func constants(_ node: Node) -> [Tensor?] { node.inputs.map { $0.isEmpty ? nil : graph.initializers[$0] } }

    func backward(_ node: Node, _ outs: [Box?]) throws -> [Box?] {
        let op = node.opType
        let none = [Box?](repeating: nil, count: node.inputs.count)
        guard node.domain.isEmpty || node.domain == "ai.onnx" else {
            throw LoupeError.unsupported("receptive fields do not know the op \(node.domain).\(op)")
        }
        if Self.shapeOnly.contains(op) { return none }
        // Single-output rules; Split has its own.
        if op == "Split" { return try split(node, outs) }
        guard let out = outs.first ?? nil else { return none }
        let outShape = try shape(node.outputs[0])
        var result = none
        func set(_ i: Int, _ b: Box?) { if i < result.count { result[i] = b } }
        switch op {
        case _ where Self.elementwise.contains(op):
            for (i, name) in node.inputs.enumerated() where !name.isEmpty {
                set(i, broadcast(out, outShape, to: try shape(name)))
            }
        case _ where Self.windows.contains(op):
            set(0, try window(node, out))
        case "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool":
            set(0, out.enumerated().map { $0.offset < 2 ? $0.element : .all })
        case "InstanceNormalization":
            set(0, out.enumerated().map { $0.offset < 2 ? $0.element : .all })
        case "LRN":
            set(0, out.enumerated().map { $0.offset == 1 ? .all : $0.element })
        case "Softmax", "LogSoftmax":
            let sa = try SoftmaxAxis(OpContext(node: node, opset: graph.opset))
            let r = out.count
            let a = sa.axis < 0 ? sa.axis + r : sa.axis
            set(0, out.enumerated().map { (sa.flattenTrailing ? $0.offset >= a : $0.offset == a) ? .all : $0.element })
        case "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
             "ReduceLogSumExp", "ReduceSumSquare":
            guard let r = try ops.op(for: node) as? any ReduceOperator else { return none }
            let x = try shape(node.inputs[0])
            let axes = try r.config.axes(rank: x.count, axesInput: constants(node).count > 1 ? constants(node)[1] : nil)
            set(0, reduced(out, inRank: x.count, axes: axes ?? [], keepdims: r.config.keepdims))
        case "ArgMax", "ArgMin":
            let x = try shape(node.inputs[0])
            let attributes = OpContext(node: node, opset: graph.opset).attributes
            let a = try normalizeAxis(try attributes.int("axis", 0), rank: x.count)
            let keep = try attributes.int("keepdims", 1) != 0
            set(0, reduced(out, inRank: x.count, axes: [a], keepdims: keep))
        case "Gemm":
            let a = OpContext(node: node, opset: graph.opset).attributes
            let transA = try a.int("transA", 0) != 0, transB = try a.int("transB", 0) != 0
            set(0, transA ? [.all, out[0]] : [out[0], .all])
            set(1, transB ? [out[1], .all] : [.all, out[1]])
            if node.inputs.count > 2 { set(2, broadcast(out, outShape, to: try shape(node.inputs[2]))) }
        case "MatMul":
            set(0, try matmulOperand(out, outShape, try shape(node.inputs[0]), left: true))
            set(1, try matmulOperand(out, outShape, try shape(node.inputs[1]), left: false))
        case "Reshape", "Flatten", "Squeeze", "Unsqueeze":
            set(0, reshaped(out, from: outShape, to: try shape(node.inputs[0])))
        case "Transpose":
            let r = out.count
            let perm = try OpContext(node: node, opset: graph.opset).attributes.ints("perm") ?? Array((0..<r).reversed())
            var b = Box(repeating: .all, count: r)
            for (a, p) in perm.enumerated() where p >= 0 && p < r && a < r { b[p] = out[a] }
            set(0, b)
        case "Concat":
            set(0, nil)
            let axis = try normalizeAxis(try OpContext(node: node, opset: graph.opset).attributes.int("axis") ?? 0, rank: out.count)
            var offset = 0
            let parts = node.inputs.filter { !$0.isEmpty }
            for (i, name) in node.inputs.enumerated() where !name.isEmpty {
                let n = try shape(name)[axis]
                defer { offset += n }
                guard n > 0 else { continue }
                guard case .range(let lo, let hi) = out[axis] else { set(i, out); continue }
                // Positions before the first part or after the last one (virtual units)
                // belong to the first or the last part.
                let start = name == parts.first ? Int.min : offset
                let end = name == parts.last ? Int.max : offset + n - 1
                let l = max(lo, start), h = min(hi, end)
                guard l <= h else { continue }
                var b = out
                b[axis] = .range(l - offset, h - offset)
                set(i, b)
            }
        case "Slice":
            guard let s = try ops.op(for: node) as? Slice else { return none }
            let x = try shape(node.inputs[0])
            let (_, starts, steps) = try s.view(x, constants(node))
            set(0, zip(out, zip(starts, steps)).map { span, p in
                span.mapped { p.0 + $0 * p.1 }.sorted
            })
        case "Pad":
            guard let p = try ops.op(for: node) as? Pad else { return none }
            let (begin, _) = try p.pads(try shape(node.inputs[0]), constants(node))
            set(0, zip(out, begin).map { span, b in span.mapped { $0 - b } })
        case "Tile":
            let x = try shape(node.inputs[0])
            set(0, zip(out, x).map { span, n in
                guard case .range(let lo, let hi) = span, n > 0 else { return span }
                return floorDivide(lo, n) == floorDivide(hi, n) ? .range(lo - floorDivide(lo, n) * n, hi - floorDivide(lo, n) * n) : .range(0, n - 1)
            })
        case "Gather":
            let x = try shape(node.inputs[0])
            let a = try normalizeAxis(try OpContext(node: node, opset: graph.opset).attributes.int("axis", 0), rank: x.count)
            let idx = constants(node).count > 1 ? constants(node)[1] : nil
            let ir = try shape(node.inputs[1]).count
            var b = Box(repeating: .all, count: x.count)
            for d in 0..<x.count where d != a { b[d] = out[d < a ? d : d + ir - 1] }
            if let idx, !idx.isFloat, let lo = idx.ints.min(), let hi = idx.ints.max() {
                let n = Int64(x[a])
                let l = lo < 0 ? lo + n : lo, h = hi < 0 ? hi + n : hi
                b[a] = (lo < 0) == (hi < 0) ? .range(Int(min(l, h)), Int(max(l, h))) : .range(0, x[a] - 1)
            }
            set(0, b)
        case "GatherElements":
            set(0, out.map { _ in .all })
        case "DepthToSpace", "SpaceToDepth":
            let bs = try OpContext(node: node, opset: graph.opset).attributes.int("blocksize", 1)
            guard bs >= 1 else { throw LoupeError.invalid("blocksize \(bs) must be positive") }
            set(0, out.enumerated().map { a, span in
                if a == 1 { return .all }
                if a < 2 { return span }
                return op == "DepthToSpace" ? span.mapped { floorDivide($0, bs) } : span.mapped(lo: { $0 * bs }, hi: { $0 * bs + bs - 1 })
            })
        case "Resize", "Upsample":
            set(0, try resample(node, out, outShape))
        default:
            throw LoupeError.unsupported("receptive fields do not know the op \(op)")
        }
        // A box with an empty range asks for no position at all.
        return result.map { b in b.flatMap { $0.contains(where: \.isEmpty) ? nil : $0 } }
    }

    // MARK: - Rules

    /// Numpy broadcasting: input axes align with the output's last axes; size-1 input axes
    /// read position 0.
    func broadcast(_ out: Box, _ outShape: [Int], to inShape: [Int]) -> Box {
        let shift = out.count - inShape.count
        guard shift >= 0 else { return inShape.map { _ in .all } }
        return inShape.enumerated().map { d, n in
            n == 1 && outShape[d + shift] != 1 ? .range(0, 0) : out[d + shift]
        }
    }

    /// Conv, ConvTranspose and the pools: output position o reads input positions
    /// o·s − padBegin + t·d, t = 0 ..< k (ConvTranspose: the adjoint map). Channels whole.
    func window(_ node: Node, _ out: Box) throws -> Box {
        let x = try shape(node.inputs[0])
        let context = OpContext(node: node, opset: graph.opset)
        let g: ConvGeometry
        switch node.opType {
        case "Conv":
            g = try Conv(context).resolve(x, try shape(node.inputs[1]), nil)
        case "ConvTranspose":
            g = try ConvTranspose(context).resolve(x, try shape(node.inputs[1]), nil)
        default:
            g = try ConvAttributes(context, op: node.opType).poolGeometry(x)
        }
        var b = out
        b[1] = .all
        for i in 0..<(x.count - 2) {
            let s = g.strides[i], pb = g.padsBegin[i], span = (g.kernel[i] - 1) * g.dilations[i]
            if node.opType == "ConvTranspose" {
                // Input i feeds outputs i·s − pb + t·d: output o reads i from ⌈(o + pb − span)/s⌉ to ⌊(o + pb)/s⌋.
                b[i + 2] = out[i + 2].mapped(lo: { ceilDivide($0 + pb - span, s) }, hi: { floorDivide($0 + pb, s) })
            } else {
                b[i + 2] = out[i + 2].mapped(lo: { $0 * s - pb }, hi: { $0 * s - pb + span })
            }
        }
        return b
    }

    /// A reduction over `axes`: those are read whole.
    func reduced(_ out: Box, inRank: Int, axes: [Int], keepdims: Bool) -> Box {
        var b = Box(repeating: .all, count: inRank)
        var k = 0
        for d in 0..<inRank {
            if axes.contains(d) { if keepdims { k += 1 }; continue }
            if k < out.count { b[d] = out[k] }
            k += 1
        }
        return b
    }

    /// MatMul: A[..., M, K] · B[..., K, N] = Y[..., M, N]; the contracted axis is read whole.
    func matmulOperand(_ out: Box, _ outShape: [Int], _ s: [Int], left: Bool) throws -> Box {
        if s.count == 1 { return [.all] }
        var b = broadcast(out, outShape, to: s)
        if out.count >= 2 || s.count >= 2 {
            if left { b[s.count - 1] = .all; b[s.count - 2] = out.count >= 2 ? out[out.count - 2] : .all } else { b[s.count - 2] = .all; b[s.count - 1] = out[out.count - 1] }
        }
        return b
    }

    /// Reshape and its special cases: axes are grouped where the products of the dimensions
    /// agree; an axis alone in its group on both sides keeps its range, other groups go
    /// through the flat (row-major) index range.
    func reshaped(_ out: Box, from outShape: [Int], to inShape: [Int]) -> Box {
        var b = Box(repeating: .all, count: inShape.count)
        var i = 0, j = 0
        while i < inShape.count || j < outShape.count {
            let i0 = i, j0 = j
            var pi = 1, pj = 1
            if i < inShape.count { pi *= inShape[i]; i += 1 }
            if j < outShape.count { pj *= outShape[j]; j += 1 }
            while pi != pj {
                if pi < pj, i < inShape.count { pi *= inShape[i]; i += 1 } else if j < outShape.count { pj *= outShape[j]; j += 1 } else { break }
            }
            let ins = Array(i0..<i).filter { inShape[$0] != 1 }, outs = Array(j0..<j).filter { outShape[$0] != 1 }
            for d in i0..<i where inShape[d] == 1 { b[d] = .range(0, 0) }
            if ins.count == 1 && outs.count == 1 && inShape[ins[0]] == outShape[outs[0]] {
                b[ins[0]] = out[outs[0]]
                continue
            }
            if ins.isEmpty { continue }
            // Flat range of the asked positions within the group, then its bounding box in the input axes.
            var lo = 0, hi = 0, whole = outs.isEmpty
            for d in outs {
                guard case .range(let l, let h) = out[d] else { whole = true; break }
                lo = lo * outShape[d] + l
                hi = hi * outShape[d] + h
            }
            if whole { for d in ins { b[d] = .all }; continue }
            var started = false
            var digitsLo: [Int] = [], digitsHi: [Int] = []
            var rl = lo, rh = hi
            for d in ins.reversed() {
                let n = inShape[d]
                digitsLo.append(d == ins.first ? rl : rl - floorDivide(rl, n) * n)
                digitsHi.append(d == ins.first ? rh : rh - floorDivide(rh, n) * n)
                rl = floorDivide(rl, n); rh = floorDivide(rh, n)
            }
            digitsLo.reverse(); digitsHi.reverse()
            for (k, d) in ins.enumerated() {
                if started { b[d] = .range(0, inShape[d] - 1); continue }
                b[d] = .range(min(digitsLo[k], digitsHi[k]), max(digitsLo[k], digitsHi[k]))
                if digitsLo[k] != digitsHi[k] { started = true }
            }
        }
        return b
    }

    /// Split: output k is the input from its offset along the axis.
    func split(_ node: Node, _ outs: [Box?]) throws -> [Box?] {
        var result = [Box?](repeating: nil, count: node.inputs.count)
        guard let s = try ops.op(for: node) as? Split else { return result }
        let x = try shape(node.inputs[0])
        let a = try normalizeAxis(s.axis, rank: x.count)
        var offset = 0
        for (k, name) in node.outputs.enumerated() {
            let n = name.isEmpty ? 0 : try shape(name)[a]
            defer { offset += n }
            guard k < outs.count, var b = outs[k] else { continue }
            b[a] = b[a].mapped { $0 + offset }
            result[0] = result[0].map { union($0, b) } ?? b
        }
        return result
    }

    /// Resize and Upsample: output position j reads the input positions around its source
    /// coordinate (the op's coordinate transform), unclamped: nearest one position, linear
    /// two, cubic four (one when the coordinate falls on a pixel).
    func resample(_ node: Node, _ out: Box, _ outShape: [Int]) throws -> Box {
        let x = try shape(node.inputs[0])
        let context = OpContext(node: node, opset: graph.opset)
        let values = constants(node)
        let scales: [Double], options: Movement.ResizeOptions, roi: [Double]?
        if node.opType == "Resize" {
            let r = try Resize(context)
            scales = try r.target(x, values, known: false).scales
            options = r.options
            roi = try r.roi(x.count, values)
        } else {
            let u = try Upsample(context)
            scales = try u.target(x, values).scales
            options = u.options
            roi = nil
        }
        return out.enumerated().map { d, span in
            let n = x[d], m = outShape[d]
            if n == m && scales[d] == 1 { return span }
            guard case .range(let lo, let hi) = span else { return .all }
            let r = roi.map { $0.count == 2 * x.count ? ($0[d], $0[x.count + d]) : (0.0, 1.0) } ?? (0, 1)
            func taps(_ j: Int) -> (Int, Int)? {
                guard let c = Movement.sourceCoordinate(j, inLength: n, outLength: m, scale: scales[d], roi: r, options) else { return nil }
                let (i0, ratio) = Movement.split(c)
                switch options.mode {
                case "nearest":
                    let i: Int
                    switch options.nearestMode {
                    case "round_prefer_ceil": i = ratio < 0.5 ? i0 : i0 + 1
                    case "floor": i = ratio == 1 ? i0 + 1 : i0
                    case "ceil": i = i0 + 1
                    case "simple": i = scales[d] < 1 ? i0 + 1 : (ratio == 1 ? i0 + 1 : i0)
                    default: i = ratio <= 0.5 ? i0 : i0 + 1
                    }
                    return (i, i)
                default:
                    if ratio == 1 && !options.antialias { return (i0 + 1, i0 + 1) }
                    let radius = options.mode == "cubic" ? 2.0 : 1.0
                    let s = options.antialias ? min(scales[d], 1) : 1
                    let start = Int((-radius / s).rounded(.down)) + 1
                    return (i0 + start, i0 + 1 - start)
                }
            }
            if options.coordinateTransformationMode == "tf_crop_and_resize" {
                let found = (max(lo, 0)...max(min(hi, m - 1), max(lo, 0))).compactMap(taps)
                guard let l = found.map(\.0).min(), let h = found.map(\.1).max() else { return .range(0, -1) }
                return .range(l, h)
            }
            guard let a = taps(lo), let b = taps(hi) else { return .all }
            return .range(min(a.0, b.0), max(a.1, b.1))
        }
    }
}

extension Span {
    /// True for a range with no position (its end before its start).
    var isEmpty: Bool { if case .range(let lo, let hi) = self { lo > hi } else { false } }

    /// The range with its ends in order (a negative step reverses them).
    var sorted: Span {
        guard case .range(let lo, let hi) = self, lo > hi else { return self }
        return .range(hi, lo)
    }
}
