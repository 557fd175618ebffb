import Foundation
import LoupeTensor

/// The float64 reference's ops: plain loops, attributes read as the float32 ops read them
/// (`ConvAttributes` for every window). Layouts: NCHW, 2-D spatial only.
enum Float64Ops {
    typealias T = Float64Tensor

    static func need(_ xs: [T?], _ i: Int, _ op: String) throws -> T {
        guard i < xs.count, let x = xs[i] else { throw LoupeError.invalid("\(op): input \(i) is missing") }
        return x
    }

    /// The pooling windows of a 2-D pooling or convolution node over X's spatial shape:
    /// for each output position, the flat in-plane indices of its taps inside the input,
    /// and the count of taps the divisor of an average counts.
    struct Windows {
        var output: [Int]
        var taps: [[Int]]
        var divisor: [Int]
    }

    static func windows(_ node: Node, _ x: [Int], opset: Int) throws -> Windows {
        guard x.count == 4 else { throw LoupeError.unsupported("\(node.opType): only 2-D pooling in the float64 reference, X is \(describe(x))") }
        let a = try ConvAttributes(OpContext(node: node, opset: opset), op: node.opType)
        let g = try a.poolGeometry(x)
        let includePad = try OpContext(node: node, opset: opset).attributes.int("count_include_pad", 0) != 0
        var w = Windows(output: g.output, taps: [], divisor: [])
        for oh in 0..<g.output[0] {
            for ow in 0..<g.output[1] {
                var taps: [Int] = []
                var padded = 0
                for kh in 0..<g.kernel[0] {
                    for kw in 0..<g.kernel[1] {
                        let ih = oh * g.strides[0] - g.padsBegin[0] + kh * g.dilations[0]
                        let iw = ow * g.strides[1] - g.padsBegin[1] + kw * g.dilations[1]
                        if ih >= -g.padsBegin[0], ih < x[2] + g.padsEnd[0], iw >= -g.padsBegin[1], iw < x[3] + g.padsEnd[1] { padded += 1 }
                        if ih >= 0, ih < x[2], iw >= 0, iw < x[3] { taps.append(ih * x[3] + iw) }
                    }
                }
                w.taps.append(taps)
                w.divisor.append(includePad ? padded : taps.count)
            }
        }
        return w
    }

    // MARK: forward

    static func forward(_ node: Node, _ xs: [T?], opset: Int, outputTypes: [TensorType?]) throws -> [T] {
        let a = OpContext(node: node, opset: opset).attributes
        let op = node.opType
        switch op {
        case "Identity", "Dropout", "Flatten", "Reshape", "Squeeze", "Unsqueeze":
            guard let shape = outputTypes.first??.shape else { throw LoupeError.invalid("\(op): output shape unknown") }
            let x = try need(xs, 0, op)
            return [T(shape: shape, data: x.data)]
        case "Relu":
            return [map(try need(xs, 0, op)) { max($0, 0) }]
        case "LeakyRelu":
            let alpha = Double(try a.float("alpha", 0.01))
            return [map(try need(xs, 0, op)) { $0 >= 0 ? $0 : alpha * $0 }]
        case "Sigmoid":
            return [map(try need(xs, 0, op)) { 1 / (1 + exp(-$0)) }]
        case "Clip":
            let (lo, hi) = try clipBounds(node, xs, a, opset)
            return [map(try need(xs, 0, op)) { min(max($0, lo), hi) }]
        case "HardSigmoid":
            let alpha = Double(try a.float("alpha", 0.2)), beta = Double(try a.float("beta", 0.5))
            return [map(try need(xs, 0, op)) { min(max(alpha * $0 + beta, 0), 1) }]
        case "HardSwish":
            return [map(try need(xs, 0, op)) { $0 * min(max($0 / 6 + 0.5, 0), 1) }]
        case "Add", "Sub", "Mul", "Div":
            let f: (Double, Double) -> Double
            switch op {
            case "Add": f = { $0 + $1 }
            case "Sub": f = { $0 - $1 }
            case "Mul": f = { $0 * $1 }
            default: f = { $0 / $1 }
            }
            return [try broadcast(try need(xs, 0, op), try need(xs, 1, op), f)]
        case "Sum":
            var y = try need(xs, 0, op)
            for i in 1..<xs.count { y = try broadcast(y, try need(xs, i, op), +) }
            return [y]
        case "Concat":
            return [try concat(xs.compactMap { $0 }, axis: try a.int("axis", 1))]
        case "Conv":
            return [try conv(node, try need(xs, 0, op), try need(xs, 1, op), xs.count > 2 ? xs[2] : nil, opset: opset)]
        case "Gemm":
            return [try gemm(a, try need(xs, 0, op), try need(xs, 1, op), xs.count > 2 ? xs[2] : nil)]
        case "MatMul":
            let x = try need(xs, 0, op), w = try need(xs, 1, op)
            guard x.shape.count == 2, w.shape.count == 2 else { throw LoupeError.unsupported("MatMul: only 2-D in the float64 reference") }
            return [matmul(x, w, transA: false, transB: false)]
        case "MaxPool", "AveragePool":
            let x = try need(xs, 0, op)
            let w = try windows(node, x.shape, opset: opset)
            let planes = x.shape[0] * x.shape[1], plane = x.shape[2] * x.shape[3], outPlane = w.taps.count
            var y = T(zeros: Array(x.shape[0..<2]) + w.output)
            for p in 0..<planes {
                for (o, taps) in w.taps.enumerated() {
                    if op == "MaxPool" {
                        y.data[p * outPlane + o] = taps.reduce(-Double.infinity) { max($0, x.data[p * plane + $1]) }
                    } else {
                        y.data[p * outPlane + o] = taps.reduce(0) { $0 + x.data[p * plane + $1] } / Double(w.divisor[o])
                    }
                }
            }
            return [y]
        case "GlobalAveragePool":
            let x = try need(xs, 0, op)
            let planes = x.shape[0] * x.shape[1], plane = x.shape[2...].reduce(1, *)
            var y = T(zeros: Array(x.shape[0..<2]) + [Int](repeating: 1, count: x.shape.count - 2))
            for p in 0..<planes { y.data[p] = x.data[p * plane..<(p + 1) * plane].reduce(0, +) / Double(plane) }
            return [y]
        case "BatchNormalization":
            let x = try need(xs, 0, op)
            let (scale, shift) = try batchNormAffine(xs, Double(try a.float("epsilon", 1e-5)))
            return [channelAffine(x, scale, shift)]
        case "Softmax":
            let x = try need(xs, 0, op)
            let (outer, n, inner) = try softmaxLayout(x.shape, a, opset)
            var y = x
            for o in 0..<outer {
                for i in 0..<inner {
                    let at = { (j: Int) in (o * n + j) * inner + i }
                    let m = (0..<n).reduce(-Double.infinity) { max($0, x.data[at($1)]) }
                    let s = (0..<n).reduce(0) { $0 + exp(x.data[at($1)] - m) }
                    for j in 0..<n { y.data[at(j)] = exp(x.data[at(j)] - m) / s }
                }
            }
            return [y]
        case "LRN":
            let x = try need(xs, 0, op)
            let size = try a.int("size", 5)
            let alpha = Double(try a.float("alpha", 1e-4)), beta = Double(try a.float("beta", 0.75)), bias = Double(try a.float("bias", 1))
            let c = x.shape[1], plane = x.shape[2...].reduce(1, *)
            var y = x
            for n in 0..<x.shape[0] {
                for ch in 0..<c {
                    let lo = max(0, ch - (size - 1) / 2), hi = min(c - 1, ch + (size - 1) / 2 + (size - 1) % 2)
                    for i in 0..<plane {
                        var s = 0.0
                        for k in lo...hi { let v = x.data[(n * c + k) * plane + i]; s += v * v }
                        let d: Double = pow(bias + alpha / Double(size) * s, beta)
                        y.data[(n * c + ch) * plane + i] = x.data[(n * c + ch) * plane + i] / d
                    }
                }
            }
            return [y]
        default:
            throw LoupeError.unsupported("\(op) is not in the float64 reference")
        }
    }

    /// Softmax as (outer, n, inner) blocks: opset 13 normalises along `axis` (default -1);
    /// earlier opsets flatten the input to 2-D at `axis` (default 1) and normalise the rows.
    static func softmaxLayout(_ shape: [Int], _ a: Attributes, _ opset: Int) throws -> (Int, Int, Int) {
        let r = shape.count
        var axis = try a.int("axis", opset >= 13 ? -1 : 1)
        if axis < 0 { axis += r }
        guard axis >= 0, axis < max(r, 1) else { throw LoupeError.invalid("Softmax: axis out of range for \(describe(shape))") }
        let outer = shape[..<axis].reduce(1, *)
        if opset < 13 { return (outer, shape[axis...].reduce(1, *), 1) }
        return (outer, shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    static func map(_ x: T, _ f: (Double) -> Double) -> T { T(shape: x.shape, data: x.data.map(f)) }

    static func clipBounds(_ node: Node, _ xs: [T?], _ a: Attributes, _ opset: Int) throws -> (Double, Double) {
        if opset < 11 {
            return (Double(try a.float("min", -.greatestFiniteMagnitude)), Double(try a.float("max", .greatestFiniteMagnitude)))
        }
        let lo = xs.count > 1 ? xs[1]?.data.first ?? -.infinity : -.infinity
        let hi = xs.count > 2 ? xs[2]?.data.first ?? .infinity : .infinity
        return (lo, hi)
    }

    /// The strides of a row-major shape.
    static func strides(_ s: [Int]) -> [Int] {
        var st = [Int](repeating: 1, count: s.count)
        var acc = 1
        for i in stride(from: s.count - 1, through: 0, by: -1) { st[i] = acc; acc *= s[i] }
        return st
    }

    /// For each element of the broadcast shape, the flat index into a tensor of shape `s`.
    static func broadcastIndices(_ s: [Int], to out: [Int]) -> [Int] {
        let padded = [Int](repeating: 1, count: out.count - s.count) + s
        let st = strides(padded), ost = strides(out)
        return (0..<out.reduce(1, *)).map { flat in
            var idx = 0, rem = flat
            for d in 0..<out.count {
                let c = rem / ost[d]
                rem %= ost[d]
                if padded[d] != 1 { idx += c * st[d] }
            }
            return idx
        }
    }

    static func broadcastShape(_ a: [Int], _ b: [Int]) throws -> [Int] {
        let r = max(a.count, b.count)
        let pa = [Int](repeating: 1, count: r - a.count) + a, pb = [Int](repeating: 1, count: r - b.count) + b
        return try (0..<r).map { i in
            guard pa[i] == pb[i] || pa[i] == 1 || pb[i] == 1 else { throw LoupeError.shape("cannot broadcast \(describe(a)) with \(describe(b))") }
            return max(pa[i], pb[i])
        }
    }

    static func broadcast(_ x: T, _ y: T, _ f: (Double, Double) -> Double) throws -> T {
        let out = try broadcastShape(x.shape, y.shape)
        let ix = broadcastIndices(x.shape, to: out), iy = broadcastIndices(y.shape, to: out)
        return T(shape: out, data: (0..<ix.count).map { f(x.data[ix[$0]], y.data[iy[$0]]) })
    }

    /// Sums `g` (of the broadcast shape) back onto shape `s`.
    static func unbroadcast(_ g: T, to s: [Int]) -> T {
        var r = T(zeros: s)
        for (k, i) in broadcastIndices(s, to: g.shape).enumerated() { r.data[i] += g.data[k] }
        return r
    }

    static func concat(_ xs: [T], axis: Int) throws -> T {
        guard let first = xs.first else { throw LoupeError.invalid("Concat: no inputs") }
        let ax = axis < 0 ? axis + first.shape.count : axis
        let outer = first.shape[..<ax].reduce(1, *)
        var shape = first.shape
        shape[ax] = xs.reduce(0) { $0 + $1.shape[ax] }
        var data: [Double] = []
        data.reserveCapacity(shape.reduce(1, *))
        for o in 0..<outer {
            for x in xs {
                let inner = x.shape[ax...].reduce(1, *)
                data.append(contentsOf: x.data[o * inner..<(o + 1) * inner])
            }
        }
        return T(shape: shape, data: data)
    }

    static func convGeometry(_ node: Node, _ x: [Int], _ w: [Int], opset: Int) throws -> (ConvGeometry, Int) {
        guard x.count == 4, w.count == 4 else { throw LoupeError.unsupported("Conv: only 2-D in the float64 reference") }
        let a = try ConvAttributes(OpContext(node: node, opset: opset), op: "Conv")
        let k = try a.kernel(weightKernel: Array(w[2...]), rank: 2)
        return (try a.geometry(input: Array(x[2...]), kernel: k), a.group)
    }

    static func conv(_ node: Node, _ x: T, _ w: T, _ b: T?, opset: Int) throws -> T {
        let (g, group) = try convGeometry(node, x.shape, w.shape, opset: opset)
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let m = w.shape[0], cg = c / group, mg = m / group
        let (oh, ow) = (g.output[0], g.output[1]), (kh, kw) = (g.kernel[0], g.kernel[1])
        var y = T(zeros: [n, m, oh, ow])
        for ni in 0..<n {
            for mi in 0..<m {
                let gi = mi / mg
                let bias = b?.data[mi] ?? 0
                for yh in 0..<oh {
                    for yw in 0..<ow {
                        var s = bias
                        for ci in 0..<cg {
                            let xc = ((ni * c) + gi * cg + ci) * h * wd
                            let wc = (mi * cg + ci) * kh * kw
                            for u in 0..<kh {
                                let ih = yh * g.strides[0] - g.padsBegin[0] + u * g.dilations[0]
                                guard ih >= 0, ih < h else { continue }
                                for v in 0..<kw {
                                    let iw = yw * g.strides[1] - g.padsBegin[1] + v * g.dilations[1]
                                    guard iw >= 0, iw < wd else { continue }
                                    s += x.data[xc + ih * wd + iw] * w.data[wc + u * kw + v]
                                }
                            }
                        }
                        y.data[((ni * m + mi) * oh + yh) * ow + yw] = s
                    }
                }
            }
        }
        return y
    }

    /// The adjoint of `conv` with respect to X.
    static func convInputGradient(_ node: Node, _ x: T, _ w: T, _ gy: T, opset: Int) throws -> T {
        let (g, group) = try convGeometry(node, x.shape, w.shape, opset: opset)
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let m = w.shape[0], cg = c / group, mg = m / group
        let (oh, ow) = (g.output[0], g.output[1]), (kh, kw) = (g.kernel[0], g.kernel[1])
        var gx = T(zeros: x.shape)
        for ni in 0..<n {
            for mi in 0..<m {
                let gi = mi / mg
                for yh in 0..<oh {
                    for yw in 0..<ow {
                        let d = gy.data[((ni * m + mi) * oh + yh) * ow + yw]
                        guard d != 0 else { continue }
                        for ci in 0..<cg {
                            let xc = ((ni * c) + gi * cg + ci) * h * wd
                            let wc = (mi * cg + ci) * kh * kw
                            for u in 0..<kh {
                                let ih = yh * g.strides[0] - g.padsBegin[0] + u * g.dilations[0]
                                guard ih >= 0, ih < h else { continue }
                                for v in 0..<kw {
                                    let iw = yw * g.strides[1] - g.padsBegin[1] + v * g.dilations[1]
                                    guard iw >= 0, iw < wd else { continue }
                                    gx.data[xc + ih * wd + iw] += d * w.data[wc + u * kw + v]
                                }
                            }
                        }
                    }
                }
            }
        }
        return gx
    }

    static func matmul(_ x: T, _ y: T, transA: Bool, transB: Bool) -> T {
        let (m, k) = transA ? (x.shape[1], x.shape[0]) : (x.shape[0], x.shape[1])
        let n = transB ? y.shape[0] : y.shape[1]
        var r = T(zeros: [m, n])
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    s += (transA ? x.data[p * m + i] : x.data[i * k + p]) * (transB ? y.data[j * k + p] : y.data[p * n + j])
                }
                r.data[i * n + j] = s
            }
        }
        return r
    }

    static func gemm(_ a: Attributes, _ x: T, _ w: T, _ c: T?) throws -> T {
        let alpha = Double(try a.float("alpha", 1)), beta = Double(try a.float("beta", 1))
        var y = matmul(x, w, transA: try a.int("transA", 0) != 0, transB: try a.int("transB", 0) != 0)
        for i in 0..<y.count { y.data[i] *= alpha }
        if let c { y = try broadcast(y, map(c) { $0 * beta }, +) }
        return y
    }

    /// BatchNormalization (inference) as a per-channel scale and shift.
    static func batchNormAffine(_ xs: [T?], _ eps: Double) throws -> ([Double], [Double]) {
        let s = try need(xs, 1, "BatchNormalization"), b = try need(xs, 2, "BatchNormalization")
        let mean = try need(xs, 3, "BatchNormalization"), v = try need(xs, 4, "BatchNormalization")
        let scale = (0..<s.count).map { s.data[$0] / (v.data[$0] + eps).squareRoot() }
        return (scale, (0..<s.count).map { b.data[$0] - mean.data[$0] * scale[$0] })
    }

    static func channelAffine(_ x: T, _ scale: [Double], _ shift: [Double]) -> T {
        let c = x.shape[1], plane = x.shape[2...].reduce(1, *)
        var y = x
        for i in 0..<x.count {
            let ch = (i / plane) % c
            y.data[i] = x.data[i] * scale[ch] + shift[ch]
        }
        return y
    }
}
