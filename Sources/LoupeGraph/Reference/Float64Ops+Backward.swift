import LoupeTensor

extension Float64Ops {
    /// The vector-Jacobian product of one node: the gradient with respect to each float input
    /// (nil for inputs that get none), from the forward inputs `xs`, outputs `ys` and the
    /// output gradients `gys`. The rules match the float32 ops: ReLU (and Clip with min 0)
    /// follow `rules.relu`; a max-pool window's gradient goes to its first maximal tap in
    /// scan order.
    static func backward(_ node: Node, _ xs: [T?], _ ys: [T?], _ gys: [T?], opset: Int,
                         rules: BackwardRules) throws -> [T?] {
        let op = node.opType
        guard let gy = gys.first ?? nil else { return xs.map { _ in nil } }
        let a = OpContext(node: node, opset: opset).attributes
        func pad(_ g: [T?]) -> [T?] { g + [T?](repeating: nil, count: max(0, xs.count - g.count)) }
        switch op {
        case "Identity", "Dropout", "Flatten", "Reshape", "Squeeze", "Unsqueeze":
            let x = try need(xs, 0, op)
            return pad([T(shape: x.shape, data: gy.data)])
        case "Relu":
            let x = try need(xs, 0, op)
            let standard = (0..<x.count).map { relu(gy.data[$0], active: x.data[$0] > 0, .standard) }
            if rules.relu == .redirected, standard.contains(where: { $0 != 0 }) { return pad([T(shape: x.shape, data: standard)]) }
            return pad([T(shape: x.shape, data: (0..<x.count).map { relu(gy.data[$0], active: x.data[$0] > 0, rules.relu) })])
        case "Clip":
            let x = try need(xs, 0, op)
            let (lo, hi) = try clipBounds(node, xs, a, opset)
            let g = (0..<x.count).map { i -> Double in
                let v = x.data[i]
                guard v < hi || hi.isInfinite else { return 0 }
                if lo == 0 { return relu(gy.data[i], active: v > 0, rules.relu) }
                return v > lo ? gy.data[i] : 0
            }
            return pad([T(shape: x.shape, data: g)])
        case "LeakyRelu":
            guard rules.relu == .standard else { throw LoupeError.unsupported("LeakyRelu under the \(rules.relu) rule") }
            let x = try need(xs, 0, op), alpha = Double(try a.float("alpha", 0.01))
            return pad([T(shape: x.shape, data: (0..<x.count).map { x.data[$0] >= 0 ? gy.data[$0] : alpha * gy.data[$0] })])
        case "Sigmoid":
            let y = try need(ys, 0, op)
            return pad([T(shape: y.shape, data: (0..<y.count).map { gy.data[$0] * y.data[$0] * (1 - y.data[$0]) })])
        case "HardSigmoid":
            let x = try need(xs, 0, op)
            let alpha = Double(try a.float("alpha", 0.2)), beta = Double(try a.float("beta", 0.5))
            return pad([T(shape: x.shape, data: (0..<x.count).map { i in
                let u = alpha * x.data[i] + beta
                return u > 0 && u < 1 ? alpha * gy.data[i] : 0
            })])
        case "HardSwish":
            let x = try need(xs, 0, op)
            return pad([T(shape: x.shape, data: (0..<x.count).map { i in
                let v = x.data[i]
                let d: Double = v <= -3 ? 0 : v >= 3 ? 1 : v / 3 + 0.5
                return d * gy.data[i]
            })])
        case "Add", "Sub", "Sum":
            return xs.enumerated().map { i, x in
                guard let x else { return nil }
                let g = unbroadcast(gy, to: x.shape)
                return op == "Sub" && i == 1 ? map(g) { -$0 } : g
            }
        case "Mul":
            let x = try need(xs, 0, op), y = try need(xs, 1, op)
            return [unbroadcast(try broadcast(gy, y, *), to: x.shape), unbroadcast(try broadcast(gy, x, *), to: y.shape)]
        case "Div":
            let x = try need(xs, 0, op), y = try need(xs, 1, op)
            let gx = unbroadcast(try broadcast(gy, y, /), to: x.shape)
            let q = try broadcast(try broadcast(gy, x, *), try broadcast(y, y, *), /)
            return [gx, unbroadcast(map(q) { -$0 }, to: y.shape)]
        case "Concat":
            let ax0 = try a.int("axis", 1)
            let parts = xs.compactMap { $0 }
            let ax = ax0 < 0 ? ax0 + gy.shape.count : ax0
            let outer = gy.shape[..<ax].reduce(1, *), rowOut = gy.shape[ax...].reduce(1, *)
            var offset = 0
            return parts.map { x in
                let inner = x.shape[ax...].reduce(1, *)
                var g = T(zeros: x.shape)
                for o in 0..<outer {
                    for i in 0..<inner { g.data[o * inner + i] = gy.data[o * rowOut + offset + i] }
                }
                offset += inner
                return g
            }
        case "Conv":
            let x = try need(xs, 0, op), w = try need(xs, 1, op)
            return pad([try convInputGradient(node, x, w, gy, opset: opset)])
        case "Gemm":
            let w = try need(xs, 1, op)
            let alpha = Double(try a.float("alpha", 1))
            let transA = try a.int("transA", 0) != 0, transB = try a.int("transB", 0) != 0
            // Y = op(A)·op(B): dA = gY·op(B)ᵀ, transposed back when transA.
            var ga = transA ? matmul(w, gy, transA: transB, transB: true) : matmul(gy, w, transA: false, transB: !transB)
            ga = map(ga) { $0 * alpha }
            return pad([ga])
        case "MatMul":
            let w = try need(xs, 1, op)
            return pad([matmul(gy, w, transA: false, transB: true)])
        case "MaxPool", "AveragePool":
            let x = try need(xs, 0, op)
            let win = try windows(node, x.shape, opset: opset)
            let planes = x.shape[0] * x.shape[1], plane = x.shape[2] * x.shape[3], outPlane = win.taps.count
            var gx = T(zeros: x.shape)
            for p in 0..<planes {
                for (o, taps) in win.taps.enumerated() {
                    let d = gy.data[p * outPlane + o]
                    if op == "MaxPool" {
                        var best = -1
                        for t in taps where best < 0 || x.data[p * plane + t] > x.data[p * plane + best] { best = t }
                        if best >= 0 { gx.data[p * plane + best] += d }
                    } else {
                        for t in taps { gx.data[p * plane + t] += d / Double(win.divisor[o]) }
                    }
                }
            }
            return pad([gx])
        case "GlobalAveragePool":
            let x = try need(xs, 0, op)
            let plane = x.shape[2...].reduce(1, *)
            return pad([T(shape: x.shape, data: (0..<x.count).map { gy.data[$0 / plane] / Double(plane) })])
        case "BatchNormalization":
            let x = try need(xs, 0, op)
            let (scale, _) = try batchNormAffine(xs, Double(try a.float("epsilon", 1e-5)))
            return pad([channelAffine(gy, scale, [Double](repeating: 0, count: scale.count))].map { T(shape: x.shape, data: $0.data) })
        case "Softmax":
            let y = try need(ys, 0, op)
            let (outer, n, inner) = try softmaxLayout(y.shape, a, opset)
            var g = y
            for o in 0..<outer {
                for i in 0..<inner {
                    let at = { (j: Int) in (o * n + j) * inner + i }
                    let dot = (0..<n).reduce(0) { $0 + gy.data[at($1)] * y.data[at($1)] }
                    for j in 0..<n { g.data[at(j)] = y.data[at(j)] * (gy.data[at(j)] - dot) }
                }
            }
            return pad([g])
        default:
            throw LoupeError.unsupported("\(op) has no backward rule in the float64 reference")
        }
    }

    static func relu(_ g: Double, active: Bool, _ rule: ReluRule) -> Double {
        switch rule {
        case .standard: return active ? g : 0
        case .deconvnet: return max(g, 0)
        case .guided: return active && g > 0 ? g : 0
        case .redirected: return active || g > 0 ? g : 0
        }
    }
}
