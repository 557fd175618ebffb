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
