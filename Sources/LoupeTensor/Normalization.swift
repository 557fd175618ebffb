/// Normalisation kernels (ONNX BatchNormalization in inference mode, InstanceNormalization,
/// LRN). Layout, row-major: x and y `[N, C, spatial...]`, seen as `[N, C, S]` with
/// S = product of the spatial dimensions (1 for rank-2 inputs).

import Foundation

/// Batch normalisation with fixed statistics (Ioffe & Szegedy, 2015):
/// `y = (x - mean) / sqrt(var + epsilon) * scale + bias`.
///
/// `scale`, `bias`, `mean`, `variance` hold one value per channel (`[C]`), or with
/// `perElement` one per channel and spatial position (`[C, S]`, the opset < 7 `spatial=0`
/// form).
public func batchNormInference(
    x: UnsafePointer<Float>, batch: Int, channels C: Int, spatial S: Int,
    scale: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    mean: UnsafePointer<Float>, variance: UnsafePointer<Float>,
    epsilon: Float, perElement: Bool = false,
    y: UnsafeMutablePointer<Float>
) {
    let statCount = perElement ? C * S : C
    var a = [Float](repeating: 0, count: statCount), b = a
    for i in 0..<statCount {
        a[i] = scale[i] / (variance[i] + epsilon).squareRoot()
        b[i] = bias[i] - mean[i] * a[i]
    }
    a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in
        parallelFor(batch * C) { nc in
            let c = nc % C
            let src = x + nc * S, dst = y + nc * S
            if perElement {
                let pa = a.baseAddress! + c * S, pb = b.baseAddress! + c * S
                for i in 0..<S { dst[i] = src[i] * pa[i] + pb[i] }
            } else {
                let ac = a[c], bc = b[c]
                for i in 0..<S { dst[i] = src[i] * ac + bc }
            }
        }
    }}
}

/// Instance normalisation (Ulyanov, Vedaldi & Lempitsky, 2016): every (image, channel)
/// plane is normalised by its own mean and (biased) variance, then scaled and shifted per
/// channel: `y = scale[c] * (x - mean) / sqrt(var + epsilon) + bias[c]`.
public func instanceNorm(
    x: UnsafePointer<Float>, batch: Int, channels C: Int, spatial S: Int,
    scale: UnsafePointer<Float>, bias: UnsafePointer<Float>, epsilon: Float,
    y: UnsafeMutablePointer<Float>
) {
    parallelFor(batch * C) { nc in
        let c = nc % C
        let src = x + nc * S, dst = y + nc * S
        var sum = 0.0
        for i in 0..<S { sum += Double(src[i]) }
        let mean = S > 0 ? sum / Double(S) : 0
        var sq = 0.0
        for i in 0..<S { let d = Double(src[i]) - mean; sq += d * d }
        let variance = S > 0 ? sq / Double(S) : 0
        let a = Float(Double(scale[c]) / (variance + Double(epsilon)).squareRoot())
        let b = bias[c] - Float(mean) * a
        for i in 0..<S { dst[i] = src[i] * a + b }
    }
}

/// Local response normalisation across channels (Krizhevsky, Sutskever & Hinton, 2012), as
/// ONNX defines it: `square_sum[n, c] = Σ x[n, i]²` for
/// `i` in `max(0, c - floor((size-1)/2)) ... min(C-1, c + ceil((size-1)/2))`, and
/// `y = x / (bias + alpha / size * square_sum) ^ beta`.
public func lrn(
    x: UnsafePointer<Float>, batch: Int, channels C: Int, spatial S: Int,
    size: Int, alpha: Float, beta: Float, bias: Float,
    y: UnsafeMutablePointer<Float>
) {
    let before = (size - 1) / 2, after = size - 1 - before
    let k = alpha / Float(size)
    parallelFor(batch * C) { nc in
        let n = nc / C, c = nc % C
        let lo = max(0, c - before), hi = min(C - 1, c + after)
        let dst = y + nc * S, src = x + nc * S
        for i in 0..<S {
            var sq: Float = 0
            if lo <= hi {
                for j in lo...hi { let v = x[(n * C + j) * S + i]; sq += v * v }
            }
            let d = bias + k * sq
            dst[i] = src[i] / (beta == 0.75 ? (d * d * d).squareRoot().squareRoot() : Foundation.pow(d, beta))
        }
    }
}

// MARK: - Backward

/// Gradients of `batchNormInference` (statistics are constants of the forward pass, so
/// every gradient is a per-channel affine expression). dy `[N, C, S]`; the statistic
/// gradients have the statistics' layout (`[C]`, or `[C, S]` with `perElement`). Each
/// output pointer may be nil (not wanted); all are overwritten:
/// - dx = dy · scale / sqrt(var + eps)
/// - dScale = Σ dy · (x - mean) / sqrt(var + eps),  dBias = Σ dy
/// - dMean = -Σ dy · scale / sqrt(var + eps)
/// - dVar = -½ Σ dy · (x - mean) · scale · (var + eps)^(-3/2)
public func batchNormInferenceBackward(
    x: UnsafePointer<Float>, dy: UnsafePointer<Float>, batch: Int, channels C: Int, spatial S: Int,
    scale: UnsafePointer<Float>, mean: UnsafePointer<Float>, variance: UnsafePointer<Float>,
    epsilon: Float, perElement: Bool = false,
    dx: UnsafeMutablePointer<Float>?, dScale: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?,
    dMean: UnsafeMutablePointer<Float>?, dVar: UnsafeMutablePointer<Float>?
) {
    let statCount = perElement ? C * S : C
    var inv = [Float](repeating: 0, count: statCount)
    for i in 0..<statCount { inv[i] = 1 / (variance[i] + epsilon).squareRoot() }
    inv.withUnsafeBufferPointer { inv in
        if let dx {
            parallelFor(batch * C) { nc in
                let c = nc % C
                let src = dy + nc * S, dst = dx + nc * S
                if perElement {
                    let base = c * S
                    for i in 0..<S { dst[i] = src[i] * scale[base + i] * inv[base + i] }
                } else {
                    let a = scale[c] * inv[c]
                    for i in 0..<S { dst[i] = src[i] * a }
                }
            }
        }
        guard dScale != nil || dBias != nil || dMean != nil || dVar != nil else { return }
        // Per statistic: Σ dy and Σ dy · (x - mean).
        parallelFor(C) { c in
            let positions = perElement ? S : 1
            for j in 0..<positions {
                let k = perElement ? c * S + j : c
                let mu = mean[k]
                var sg = 0.0, sgx = 0.0
                for n in 0..<batch {
                    let g = dy + (n * C + c) * S, xv = x + (n * C + c) * S
                    if perElement {
                        sg += Double(g[j]); sgx += Double(g[j]) * Double(xv[j] - mu)
                    } else {
                        var a: Float = 0, b: Float = 0
                        for i in 0..<S { a += g[i]; b += g[i] * (xv[i] - mu) }
                        sg += Double(a); sgx += Double(b)
                    }
                }
                let iv = Double(inv[k]), sc = Double(scale[k])
                dBias?[k] = Float(sg)
                dScale?[k] = Float(sgx * iv)
                dMean?[k] = Float(-sg * sc * iv)
                dVar?[k] = Float(-0.5 * sgx * sc * iv * iv * iv)
            }
        }
    }
}

/// Gradients of `instanceNorm`. With x̂ = (x - mean) / sqrt(var + eps) per plane and
/// g = dy, over the S positions of each plane:
/// - dx = scale / sqrt(var + eps) · (g - mean(g) - x̂ · mean(g · x̂))
/// - dScale[c] = Σ_n Σ g · x̂,  dBias[c] = Σ_n Σ g
/// Any output pointer may be nil; all are overwritten.
public func instanceNormBackward(
    x: UnsafePointer<Float>, dy: UnsafePointer<Float>, batch: Int, channels C: Int, spatial S: Int,
    scale: UnsafePointer<Float>, epsilon: Float,
    dx: UnsafeMutablePointer<Float>?, dScale: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?
) {
    var sums = [Double](repeating: 0, count: 2 * batch * C)   // per plane: Σ g, Σ g·x̂
    sums.withUnsafeMutableBufferPointer { sums in
        let sp = sums.baseAddress!
        parallelFor(batch * C) { nc in
            let c = nc % C
            let src = x + nc * S, g = dy + nc * S
            var sum = 0.0
            for i in 0..<S { sum += Double(src[i]) }
            let mean = S > 0 ? sum / Double(S) : 0
            var sq = 0.0
            for i in 0..<S { let d = Double(src[i]) - mean; sq += d * d }
            let variance = S > 0 ? sq / Double(S) : 0
            let inv = 1 / (variance + Double(epsilon)).squareRoot()
            var sg = 0.0, sgx = 0.0
            for i in 0..<S {
                let gv = Double(g[i])
                sg += gv
                sgx += gv * (Double(src[i]) - mean) * inv
            }
            sp[2 * nc] = sg
            sp[2 * nc + 1] = sgx
            guard let dx, S > 0 else { return }
            let dst = dx + nc * S
            let a = Double(scale[c]) * inv
            let mg = sg / Double(S), mgx = sgx / Double(S)
            for i in 0..<S {
                let xh = (Double(src[i]) - mean) * inv
                dst[i] = Float(a * (Double(g[i]) - mg - xh * mgx))
            }
        }
        for c in 0..<C {
            var sg = 0.0, sgx = 0.0
            for n in 0..<batch { sg += sp[2 * (n * C + c)]; sgx += sp[2 * (n * C + c) + 1] }
            dBias?[c] = Float(sg)
            dScale?[c] = Float(sgx)
        }
    }
}

/// Gradient of `lrn` with respect to x. With d_i = bias + alpha/size · Σ_{j∈win(i)} x_j²
/// and y_i = x_i d_i^(-beta):
/// dx_j = dy_j d_j^(-beta) - 2 · alpha/size · beta · x_j · Σ_{i: j∈win(i)} dy_i x_i d_i^(-beta-1).
/// dx is overwritten.
public func lrnBackward(
    x: UnsafePointer<Float>, dy: UnsafePointer<Float>, batch: Int, channels C: Int, spatial S: Int,
    size: Int, alpha: Float, beta: Float, bias: Float,
    dx: UnsafeMutablePointer<Float>
) {
    let before = (size - 1) / 2, after = size - 1 - before
    let k = alpha / Float(size)
    let total = batch * C * S
    // d^(-beta) and t = dy · x · d^(-beta-1), per element.
    let scaleBuf = UnsafeMutablePointer<Float>.allocate(capacity: max(total, 1))
    let tBuf = UnsafeMutablePointer<Float>.allocate(capacity: max(total, 1))
    defer { scaleBuf.deallocate(); tBuf.deallocate() }
    parallelFor(batch * C) { nc in
        let n = nc / C, c = nc % C
        let lo = max(0, c - before), hi = min(C - 1, c + after)
        for i in 0..<S {
            var sq: Float = 0
            if lo <= hi { for j in lo...hi { let v = x[(n * C + j) * S + i]; sq += v * v } }
            let d = bias + k * sq
            let p = Foundation.pow(d, -beta)
            scaleBuf[nc * S + i] = p
            tBuf[nc * S + i] = dy[nc * S + i] * x[nc * S + i] * p / d
        }
    }
    parallelFor(batch * C) { nc in
        let n = nc / C, c = nc % C
        // Channels i whose window contains c: c - after ... c + before.
        let lo = max(0, c - after), hi = min(C - 1, c + before)
        for i in 0..<S {
            var s: Float = 0
            if lo <= hi { for j in lo...hi { s += tBuf[(n * C + j) * S + i] } }
            dx[nc * S + i] = dy[nc * S + i] * scaleBuf[nc * S + i] - 2 * k * beta * x[nc * S + i] * s
        }
    }
}
