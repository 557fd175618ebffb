import Foundation
import LoupeTensor

/// Fitting one linear layer on fixed features with softmax cross-entropy: the training loop
/// behind `loupe surgery cam`, where only the new head trains, so the features are computed
/// once.
///
/// Features f [n, K] are standardised per feature (z = (f − μ) / σ, statistics of the fitting
/// set) for a well-conditioned problem; the loss is
/// L = −(1/n) Σ_i Σ_c t_ic log softmax(W z_i + b)_c + (λ/2) ‖W‖², whose gradient is
/// ∂L/∂W = (1/n) (P − T)ᵀ Z + λ W and ∂L/∂b = (1/n) Σ_i (p_i − t_i), with P the softmax rows
/// and T the targets: the original model's softmax (distillation, Hinton, Vinyals and Dean,
/// 2015) or one-hot labels. Full-batch Adam (Kingma and Ba, ICLR 2015) or plain gradient
/// descent. The standardisation is folded into the returned weights, so they apply to the raw
/// features: W' = W / σ (per column), b' = b − W' μ.
public enum HeadTraining {
    public enum Optimizer: String, Sendable, CaseIterable { case adam, sgd }

    public struct Settings: Sendable {
        public var epochs = 300
        public var learningRate: Float = 0.01
        public var optimizer = Optimizer.adam
        public var weightDecay: Float = 1e-4
        public var seed: UInt64 = 0
        public init() {}
    }

    public struct Result: Sendable {
        /// Weights [classes, K], row-major, for the raw (unstandardised) features.
        public var weights: [Float]
        /// Bias [classes].
        public var bias: [Float]
        /// Cross-entropy on the fitting set after the last epoch (without the decay term).
        public var loss: Float
    }

    /// Fits W [classes, K] and b on `features` (n rows of K) against `targets` (n rows of
    /// `classes` probabilities summing to 1). `progress(epoch, epochs)` after each epoch.
    public static func fit(features: [[Float]], targets: [[Float]], settings: Settings,
                           progress: ((Int, Int) -> Void)? = nil) throws -> Result {
        let n = features.count
        guard n > 0, n == targets.count, let k = features.first?.count, k > 0, let c = targets.first?.count, c > 0 else {
            throw LoupeError(.invalidArgument, "head training needs at least one feature row and one target row of the same count")
        }
        guard features.allSatisfy({ $0.count == k }), targets.allSatisfy({ $0.count == c }) else {
            throw LoupeError(.invalidArgument, "head training: feature rows (or target rows) differ in length")
        }
        // Standardise.
        var mu = [Float](repeating: 0, count: k), sigma = [Float](repeating: 0, count: k)
        for j in 0..<k {
            var s = 0.0, s2 = 0.0
            for f in features { s += Double(f[j]); s2 += Double(f[j]) * Double(f[j]) }
            let m = s / Double(n)
            mu[j] = Float(m)
            let v = max(s2 / Double(n) - m * m, 0)
            sigma[j] = v > 1e-12 ? Float(v.squareRoot()) : 1
        }
        var z = [Float](repeating: 0, count: n * k)
        for i in 0..<n { for j in 0..<k { z[i * k + j] = (features[i][j] - mu[j]) / sigma[j] } }
        let t = targets.flatMap { $0 }

        // Small random start (seeded), zero bias.
        var rng = SplitMix64(seed: settings.seed)
        let scale = 0.01 / Float(k).squareRoot()
        var w = (0..<(c * k)).map { _ in (rng.nextFloat() * 2 - 1) * scale }
        var b = [Float](repeating: 0, count: c)
        var mW = [Float](repeating: 0, count: c * k), vW = mW
        var mB = [Float](repeating: 0, count: c), vB = mB
        let (beta1, beta2, eps): (Float, Float, Float) = (0.9, 0.999, 1e-8)
        var logits = [Float](repeating: 0, count: n * c)
        var gW = [Float](repeating: 0, count: c * k)
        var loss: Float = 0

        func forward() -> Float {
            // logits[n, c] = Z[n, k] · Wᵀ[k, c] + b; then rows become P − T in place.
            z.withUnsafeBufferPointer { zp in
                w.withUnsafeBufferPointer { wp in
                    logits.withUnsafeMutableBufferPointer { lp in
                        sgemm(transB: true, m: n, n: c, k: k, a: zp.baseAddress!, lda: k, b: wp.baseAddress!, ldb: k,
                              c: lp.baseAddress!, ldc: c)
                    }
                }
            }
            var total = 0.0
            for i in 0..<n {
                var mx = -Float.infinity
                for j in 0..<c { logits[i * c + j] += b[j]; mx = max(mx, logits[i * c + j]) }
                var s = 0.0
                for j in 0..<c { s += exp(Double(logits[i * c + j] - mx)) }
                let logS = log(s)
                for j in 0..<c {
                    let logp = Double(logits[i * c + j] - mx) - logS
                    if t[i * c + j] > 0 { total -= Double(t[i * c + j]) * logp }
                    logits[i * c + j] = Float(exp(logp)) - t[i * c + j]
                }
            }
            return Float(total / Double(n))
        }

        let lr = settings.learningRate
        for epoch in 1...max(settings.epochs, 1) {
            loss = forward()
            // gW[c, k] = (P − T)ᵀ[c, n] · Z[n, k] / n + λ W
            logits.withUnsafeBufferPointer { gp in
                z.withUnsafeBufferPointer { zp in
                    gW.withUnsafeMutableBufferPointer { op in
                        sgemm(transA: true, m: c, n: k, k: n, alpha: 1 / Float(n), a: gp.baseAddress!, lda: c,
                              b: zp.baseAddress!, ldb: k, c: op.baseAddress!, ldc: k)
                    }
                }
            }
            var gB = [Float](repeating: 0, count: c)
            for i in 0..<n { for j in 0..<c { gB[j] += logits[i * c + j] } }
            for j in 0..<c { gB[j] /= Float(n) }
            for q in 0..<(c * k) { gW[q] += settings.weightDecay * w[q] }
            switch settings.optimizer {
            case .sgd:
                for q in 0..<(c * k) { w[q] -= lr * gW[q] }
                for j in 0..<c { b[j] -= lr * gB[j] }
            case .adam:
                let bc1 = 1 - pow(beta1, Float(epoch)), bc2 = 1 - pow(beta2, Float(epoch))
                for q in 0..<(c * k) {
                    mW[q] = beta1 * mW[q] + (1 - beta1) * gW[q]
                    vW[q] = beta2 * vW[q] + (1 - beta2) * gW[q] * gW[q]
                    w[q] -= lr * (mW[q] / bc1) / ((vW[q] / bc2).squareRoot() + eps)
                }
                for j in 0..<c {
                    mB[j] = beta1 * mB[j] + (1 - beta1) * gB[j]
                    vB[j] = beta2 * vB[j] + (1 - beta2) * gB[j] * gB[j]
                    b[j] -= lr * (mB[j] / bc1) / ((vB[j] / bc2).squareRoot() + eps)
                }
            }
            progress?(epoch, settings.epochs)
        }
        loss = forward()
        // Fold the standardisation into the weights.
        var wOut = w, bOut = b
        for i in 0..<c {
            var shift = 0.0
            for j in 0..<k {
                wOut[i * k + j] = w[i * k + j] / sigma[j]
                shift += Double(wOut[i * k + j]) * Double(mu[j])
            }
            bOut[i] = b[i] - Float(shift)
        }
        return Result(weights: wOut, bias: bOut, loss: loss)
    }

    /// A deterministic split of 0..<n into (fit, held out): a seeded shuffle, the first
    /// `round(n · fraction)` indices held out, both parts sorted.
    public static func split(_ n: Int, holdout fraction: Double, seed: UInt64) -> (fit: [Int], holdout: [Int]) {
        var idx = Array(0..<n)
        var rng = SplitMix64(seed: seed ^ 0x5EED_5EED)
        for i in stride(from: n - 1, to: 0, by: -1) { idx.swapAt(i, rng.int(i + 1)) }
        let h = Int((Double(n) * fraction).rounded())
        return (Array(idx[h...]).sorted(), Array(idx[..<h]).sorted())
    }

    /// How many images a held-out fraction needs: at least one held out and one to fit.
    public static func minimumImages(holdout fraction: Double) -> Int {
        guard fraction > 0 else { return 1 }
        var n = 2
        while n < 1_000_000 {
            let h = Int((Double(n) * fraction).rounded())
            if h >= 1 && n - h >= 1 { return n }
            n += 1
        }
        return n
    }
}
