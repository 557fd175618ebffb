import Foundation
import LoupeTensor

// Shared pieces of the element-wise ops' backward rules (Relu, Add, Max, Where, Reduce*,
// Softmax, ...): the incoming gradient checked, element-wise maps of (g, x, y), broadcast
// operands expanded and their gradients summed back (`reduceToShape`), and the walks of the
// reductions and softmax. Gradients are float32 tensors of exactly the input's shape.

// MARK: - Plumbing

/// True when the gradient of input `i` is asked for.
@inline(__always)
func isWanted(_ wanted: [Bool], _ i: Int) -> Bool { i < wanted.count && wanted[i] }

/// No gradient for any input (the op's outputs are integer or bool, or its inputs are).
func noGradients(_ inputs: [Tensor?]) -> [Tensor?] { [Tensor?](repeating: nil, count: inputs.count) }

/// Float32 zeros for every wanted float input, nil elsewhere: for ops that are piecewise
/// constant (Floor, Ceil, Round, Sign), whose gradient is zero almost everywhere.
func zeroGradients(_ inputs: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
    try inputs.indices.map { i in
        guard isWanted(wanted, i), let x = inputs[i], x.isFloat else { return nil }
        return try Tensor(zeros: x.shape)
    }
}

/// The gradient of output `i`, checked to be float data of `shape`; nil means zero.
func incomingGradient(_ gradients: [Tensor?], _ i: Int = 0, shape: [Int], _ op: String) throws -> Tensor? {
    guard i < gradients.count, let g = gradients[i] else { return nil }
    guard g.isFloat, g.shape == shape else {
        throw LoupeError.shape("\(op): gradient of output \(i) is \(g.dtype.name)\(describe(g.shape)); expected a float tensor of shape \(describe(shape))")
    }
    return g
}

/// `g` as a float32 gradient of `shape` (same element count; a reshape, no copy).
@inline(__always)
func asGradient(_ g: Tensor, shape: [Int]) -> Tensor {
    Tensor(shape: shape, floats: g.floats)
}

/// `t`'s values (integers converted) broadcast to `shape`, as a flat row-major array.
/// `t`'s shape must broadcast to `shape`.
func expandedFloats(_ t: Tensor, to shape: [Int]) throws -> [Float] {
    let src = t.isFloat ? t.floats : asFloatTensor(t).floats
    if t.shape == shape { return src }
    let n = try Tensor.checkedCount(shape)
    let st = broadcastStrides(t.shape, to: shape)
    return src.withUnsafeBufferPointer { ps in
        [Float](unsafeUninitializedCapacity: n) { out, done in
            forEachBroadcastRun(shape, contiguousStrides(shape), st) { o, _, so, m, _, ds in
                if ds == 0 {
                    let v = ps[so]
                    for i in 0..<m { out[o + i] = v }
                } else {
                    for i in 0..<m { out[o + i] = ps[so + i * ds] }
                }
            }
            done = n
        }
    }
}

/// Sums a gradient of the broadcast output shape back to an operand that had shape `aligned`
/// in the forward (after opset < 7 alignment), and gives it the operand's own `shape`.
func operandGradient(_ full: Tensor, aligned: [Int], shape: [Int]) throws -> Tensor {
    let r = try reduceToShape(full, aligned)
    return Tensor(shape: shape, floats: r.floats)
}

// MARK: - Element-wise maps

/// The gradient of an element-wise Y = f(X) (input 0): dX[i] = d(g[i], x[i], y[i]), where `d`
/// receives the incoming gradient, the forward input and the forward output.
@inline(__always)
func unaryGradient(
    _ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool], _ op: String,
    _ d: (Float, Float, Float) -> Float
) throws -> [Tensor?] {
    var result = noGradients(inputs)
    guard isWanted(wanted, 0), let x = inputs[0], x.isFloat else { return result }
    guard let g = try incomingGradient(gradients, 0, shape: x.shape, op) else { return result }
    guard let y = outputs.first, y.isFloat, y.shape == x.shape else {
        throw LoupeError.shape("\(op): forward output \(outputs.first.map { $0.dtype.name + describe($0.shape) } ?? "missing") does not match X \(describe(x.shape))")
    }
    result[0] = try x.floats.withUnsafeBufferPointer { px in
        try y.floats.withUnsafeBufferPointer { py in
            try g.floats.withUnsafeBufferPointer { pg in
                try Tensor(shape: x.shape) { out in
                    guard let o = out.baseAddress, let gg = pg.baseAddress, let xx = px.baseAddress, let yy = py.baseAddress else { return }
                    for i in 0..<out.count { o[i] = d(gg[i], xx[i], yy[i]) }
                }
            }
        }
    }
    return result
}

/// Flat element-wise map over equal-length arrays: out[i] = f(i).
@inline(__always)
func buildFloats(_ n: Int, _ f: (Int) -> Float) -> [Float] {
    [Float](unsafeUninitializedCapacity: n) { out, done in
        for i in 0..<n { out[i] = f(i) }
        done = n
    }
}

// MARK: - Binary ops

/// The gradients of a broadcasting binary op C = f(A, B) (opset < 7 alignment in `legacy`):
/// dA = Σ_broadcast g · `da`(a, b, c), dB = Σ_broadcast g · `db`(a, b, c), each closure taking
/// (g, a, b, c) at one output element. A non-float B (Pow's integer exponent) gets none.
@inline(__always)
func binaryGradient(
    _ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
    _ legacy: LegacyBroadcast, _ op: String,
    da: (Float, Float, Float, Float) -> Float, db: (Float, Float, Float, Float) -> Float
) throws -> [Tensor?] {
    var result = noGradients(inputs)
    guard inputs.count == 2, let a = inputs[0], let b = inputs[1], a.isFloat else { return result }
    let wantA = isWanted(wanted, 0), wantB = isWanted(wanted, 1) && b.isFloat
    guard wantA || wantB, let c = outputs.first else { return result }
    guard let g = try incomingGradient(gradients, 0, shape: c.shape, op) else { return result }
    let bShape = try legacy.align(a.shape, b.shape)
    var bAligned = b
    bAligned.shape = bShape
    let av = try expandedFloats(a, to: c.shape), bv = try expandedFloats(bAligned, to: c.shape)
    guard av.count == c.count, c.floats.count == c.count else {
        throw LoupeError.shape("\(op): output \(describe(c.shape)) is not the broadcast of \(describe(a.shape)) and \(describe(b.shape))")
    }
    let n = c.count
    let (pa, pb, pc, pg) = (av, bv, c.floats, g.floats)
    if wantA {
        let full = Tensor(shape: c.shape, floats: buildFloats(n) { i in da(pg[i], pa[i], pb[i], pc[i]) })
        result[0] = try operandGradient(full, aligned: a.shape, shape: a.shape)
    }
    if wantB {
        let full = Tensor(shape: c.shape, floats: buildFloats(n) { i in db(pg[i], pa[i], pb[i], pc[i]) })
        result[1] = try operandGradient(full, aligned: bShape, shape: b.shape)
    }
    return result
}

// MARK: - Variadic ops (Sum, Mean, Max, Min)

/// Sum and Mean: dXᵢ = `scale` · g summed over the dimensions along which Xᵢ was broadcast.
func variadicSumGradient(
    _ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool], scale: Float, _ op: String
) throws -> [Tensor?] {
    var result = noGradients(inputs)
    guard let y = outputs.first, let g = try incomingGradient(gradients, 0, shape: y.shape, op) else { return result }
    let scaled = scale == 1 ? asGradient(g, shape: g.shape) : Tensor(shape: g.shape, floats: g.floats.map { $0 * scale })
    for (i, x) in inputs.enumerated() where isWanted(wanted, i) {
        guard let x, x.isFloat else { continue }
        result[i] = try operandGradient(scaled, aligned: x.shape, shape: x.shape)
    }
    return result
}

/// Max and Min: the gradient goes to the input(s) equal to the output at each element; a tie
/// between k inputs gives each g / k, as `torch.maximum` / `torch.minimum` do. Where the output
/// is NaN, the NaN inputs share it.
func variadicExtremumGradient(
    _ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool], _ op: String
) throws -> [Tensor?] {
    var result = noGradients(inputs)
    guard let y = outputs.first, y.isFloat,
          let g = try incomingGradient(gradients, 0, shape: y.shape, op) else { return result }
    guard inputs.contains(where: { $0?.isFloat ?? false }) else { return result }
    let n = y.count
    let yv = y.floats
    @inline(__always) func hit(_ x: Float, _ y: Float) -> Bool { x == y || (x.isNaN && y.isNaN) }
    // First pass: how many inputs attain the output at each element.
    var ties = [Float](repeating: 0, count: n)
    var expanded: [[Float]?] = []
    for x in inputs {
        guard let x else { expanded.append(nil); continue }
        let xv = try expandedFloats(x, to: y.shape)
        for i in 0..<n where hit(xv[i], yv[i]) { ties[i] += 1 }
        expanded.append(xv)
    }
    let gv = g.floats
    for (k, x) in inputs.enumerated() where isWanted(wanted, k) {
        guard let x, x.isFloat, let xv = expanded[k] else { continue }
        let full = Tensor(shape: y.shape, floats: buildFloats(n) { i in
            hit(xv[i], yv[i]) && ties[i] > 0 ? gv[i] / ties[i] : 0
        })
        result[k] = try operandGradient(full, aligned: x.shape, shape: x.shape)
    }
    return result
}

// MARK: - ReLU-like ops

/// dX for a ReLU-like op whose slope on the passing side (x > 0) is 1 and on the other side
/// `negativeSlope` (0 for Relu, alpha for LeakyRelu, the broadcast slope for PRelu). Under the
/// deconvnet and guided rules the other side is treated as the ReLU's zero side; the redirected
/// rule keeps the true gradient (a leaky unit always passes some).
@inline(__always)
func leakyGradient(_ g: Float, _ x: Float, negativeSlope: Float, _ rule: ReluRule) -> Float {
    if rule == .standard || rule == .redirected { return x > 0 ? g : negativeSlope * g }
    return reluGradient(g, active: x > 0, rule)
}

// MARK: - Reductions

/// Calls `body(xIndex, groupIndex)` for every element of `shape`, with `groupIndex` the flat
/// index of its group in the keepdims shape `kept` (reduced axes of size 1).
@inline(__always)
func forEachReduced(_ shape: [Int], kept: [Int], _ body: (Int, Int) -> Void) {
    forEachBroadcastRun(shape, contiguousStrides(shape), broadcastStrides(kept, to: shape)) { o, _, go, n, _, dg in
        for i in 0..<n { body(o + i, go + i * dg) }
    }
}

extension ReduceOperator {
    /// The shared backward of Reduce*: with g and y viewed in the keepdims shape and N the
    /// group size, dX = g (Sum), g / N (Mean), g · [x = y] / #ties (Max, Min: ties split
    /// evenly, as `torch.amax`), g · Π_{j≠i} x_j (Prod, exact with zeros), g · sign x (L1),
    /// g · x / y (L2; 0 where y = 0), g · e^(x − y) (LogSumExp), 2 g x (SumSquare). The
    /// `axes` input has no gradient.
    func reduceBackward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        var result = noGradients(inputs)
        guard isWanted(wanted, 0), let x = inputs[0], x.isFloat, let y = outputs.first else { return result }
        guard let g = try incomingGradient(gradients, 0, shape: y.shape, Self.opType) else { return result }
        guard let axes = try config.axes(rank: x.rank, axesInput: optionalInput(inputs, 1)) else {
            result[0] = asGradient(g, shape: x.shape)  // noop_with_empty_axes: Y = X
            return result
        }
        var kept = x.shape
        for a in axes { kept[a] = 1 }
        let groups = try Tensor.checkedCount(kept)
        guard g.count == groups, y.floats.count == groups else {
            throw LoupeError.shape("\(Self.opType): output \(describe(y.shape)) does not match X \(describe(x.shape)) reduced over axes \(axes)")
        }
        let groupSize = axes.reduce(1) { $0 * x.shape[$1] }
        let n = x.count
        var dx = [Float](repeating: 0, count: n)
        let xv = x.floats, yv = y.floats, gv = g.floats
        switch Self.kind {
        case .sum:
            forEachReduced(x.shape, kept: kept) { i, j in dx[i] = gv[j] }
        case .mean:
            let s = 1 / Float(max(groupSize, 1))
            forEachReduced(x.shape, kept: kept) { i, j in dx[i] = gv[j] * s }
        case .l1:
            forEachReduced(x.shape, kept: kept) { i, j in dx[i] = xv[i] > 0 ? gv[j] : (xv[i] < 0 ? -gv[j] : 0) }
        case .l2:
            forEachReduced(x.shape, kept: kept) { i, j in dx[i] = yv[j] == 0 ? 0 : gv[j] * xv[i] / yv[j] }
        case .sumSquare:
            forEachReduced(x.shape, kept: kept) { i, j in dx[i] = 2 * gv[j] * xv[i] }
        case .logSumExp:
            forEachReduced(x.shape, kept: kept) { i, j in
                dx[i] = gv[j] * Float(Foundation.exp(Double(xv[i]) - Double(yv[j])))
            }
        case .max, .min:
            var ties = [Float](repeating: 0, count: groups)
            forEachReduced(x.shape, kept: kept) { i, j in if xv[i] == yv[j] { ties[j] += 1 } }
            forEachReduced(x.shape, kept: kept) { i, j in if xv[i] == yv[j] { dx[i] = gv[j] / ties[j] } }
        case .prod:
            // Product of the nonzero elements and count of zeros per group, so that
            // Π_{j≠i} x_j is exact when the group holds zeros.
            var zeros = [Int](repeating: 0, count: groups)
            var nonzero = [Double](repeating: 1, count: groups)
            forEachReduced(x.shape, kept: kept) { i, j in
                if xv[i] == 0 { zeros[j] += 1 } else { nonzero[j] *= Double(xv[i]) }
            }
            forEachReduced(x.shape, kept: kept) { i, j in
                switch zeros[j] {
                case 0: dx[i] = Float(Double(gv[j]) * nonzero[j] / Double(xv[i]))
                case 1: dx[i] = xv[i] == 0 ? Float(Double(gv[j]) * nonzero[j]) : 0
                default: dx[i] = 0
                }
            }
        }
        result[0] = Tensor(shape: x.shape, floats: dx)
        return result
    }
}

// MARK: - Softmax / LogSoftmax

/// The backward of softmax (or log-softmax) over n of a tensor viewed as [outer, n, inner], from
/// its output `y` and the incoming gradient `g`:
/// softmax dx = y · (g − Σₖ g·y), log-softmax dx = g − e^y · Σₖ g.
func softmaxBackward(_ y: Tensor, _ g: Tensor, outer: Int, n: Int, inner: Int, log: Bool) throws -> Tensor {
    try y.floats.withUnsafeBufferPointer { py in
        try g.floats.withUnsafeBufferPointer { pg in
            try Tensor(shape: y.shape) { out in
                guard let ys = py.baseAddress, let gs = pg.baseAddress, let dst = out.baseAddress else { return }
                withUnsafeTemporaryAllocation(of: Double.self, capacity: max(inner, 1)) { sums in
                    for o in 0..<outer {
                        let base = o * n * inner
                        for i in 0..<inner { sums[i] = 0 }
                        for k in 0..<n {
                            let row = base + k * inner
                            if log {
                                for i in 0..<inner { sums[i] += Double(gs[row + i]) }
                            } else {
                                for i in 0..<inner { sums[i] += Double(gs[row + i]) * Double(ys[row + i]) }
                            }
                        }
                        for k in 0..<n {
                            let row = base + k * inner
                            for i in 0..<inner {
                                let s = Float(sums[i])
                                dst[row + i] = log ? gs[row + i] - Foundation.exp(ys[row + i]) * s
                                                   : ys[row + i] * (gs[row + i] - s)
                            }
                        }
                    }
                }
            }
        }
    }
}
