import Foundation
import LoupeGraph
import LoupeTensor

/// Noise tunnel: a gradient method averaged over noisy copies of the input, with Captum's
/// `NoiseTunnel` definitions.
///
/// - SmoothGrad: Smilkov, Thorat, Kim, Viégas and Wattenberg, "SmoothGrad: removing noise by
///   adding noise", ICML workshop 2017: the mean of the maps of x + εₙ, εₙ ~ N(0, σ²);
/// - SmoothGrad²: the mean of their squares (Hooker, Erhan, Kindermans and Kim, "A
///   Benchmark for Interpretability Methods in Deep Neural Networks", NeurIPS 2019);
/// - VarGrad: their variance, mean of squares minus square of the mean (Adebayo, Gilmer,
///   Goodfellow and Kim, "Local Explanation Methods for Deep Neural Networks Lack
///   Sensitivity to Parameter Randomization", ICLR workshop 2018).
///
/// Input: one image [1, C, H, W]. Output: the base method's map shape, C×H×W; SmoothGrad²
/// and VarGrad are non-negative. σ is absolute, in the model's input space (after
/// preprocessing), as Captum's `stdevs`. The target is the clean input's; an Integrated
/// Gradients baseline is made from the clean input once and kept for every noisy copy
/// (Captum keeps the `baselines` it is given).
///
/// The noise is Loupe's own and reproducible (`noise`), not torch's: the reference fixtures
/// re-create it in NumPy and feed it to Captum.
public enum NoiseTunnel {
    public enum Kind: String, Sendable, CaseIterable {
        case smoothgrad
        case smoothgradSq = "smoothgrad-sq"
        case vargrad

        public var title: String {
            switch self {
            case .smoothgrad: "SmoothGrad"
            case .smoothgradSq: "SmoothGrad²"
            case .vargrad: "VarGrad"
            }
        }
    }

    public struct Settings: Sendable {
        public var kind = Kind.smoothgrad
        /// Noisy copies (Captum's `nt_samples`).
        public var samples = 50
        /// σ of the noise in the model's input space; nil: 15 % of the input's value range
        /// (max − min), the middle of the 10–20 % Smilkov et al. recommend.
        public var std: Double?
        public var seed: UInt64 = 0
        public init(kind: Kind = .smoothgrad) { self.kind = kind }

        /// The σ used for input x.
        public func sigma(for x: Tensor) -> Double {
            if let std { return std }
            let v = x.floats
            guard let lo = v.min(), let hi = v.max() else { return 0 }
            return 0.15 * Double(hi - lo)
        }
    }

    public static func explain(_ method: Method, _ model: ExplainableModel, _ x: Tensor, options: Method.Options,
                               settings s: Settings) throws -> Explanation {
        guard s.samples >= 1 else { throw LoupeError(.invalidArgument, "the noise tunnel needs at least 1 sample, got \(s.samples)") }
        let sigma = s.sigma(for: x)
        guard sigma >= 0, sigma.isFinite else { throw LoupeError(.invalidArgument, "the noise's standard deviation must be non-negative, got \(sigma)") }
        var inner = options
        inner.noiseTunnel = nil
        inner.progress = nil
        if inner.target == nil { inner.target = try model.resolveTarget(nil, logits: model.forward(x).logits, labels: []) }
        if method == .integratedGradients {
            let b = try IntegratedGradients.baselineTensor(inner.integratedGradients.baseline, for: x)
            inner.integratedGradients.baseline = .tensor(b, source: "baseline")
        }
        let plane = x.count
        var sum = [Double](repeating: 0, count: plane), sumSq = sum
        var rng = SplitMix64(seed: s.seed)
        var shape: [Int] = []
        for sample in 0..<s.samples {
            let eps = noise(count: plane, sigma: sigma, rng: &rng)
            let noisy = Tensor(shape: x.shape, floats: (0..<plane).map { x.floats[$0] + eps[$0] })
            let e = try method.run(on: model, input: noisy, options: inner)
            guard e.map.count == plane else {
                throw LoupeError.shape("the noise tunnel needs a map of the input's size; \(method.rawValue) gave \(describe(e.map.shape))")
            }
            shape = e.map.shape
            e.map.floats.withUnsafeBufferPointer { m in
                for i in 0..<plane {
                    let a = Double(m[i])
                    sum[i] += a
                    sumSq[i] += a * a
                }
            }
            options.progress?(sample + 1, s.samples)
        }
        let n = Double(s.samples)
        let map: [Float] = (0..<plane).map { i in
            let mean = sum[i] / n, meanSq = sumSq[i] / n
            switch s.kind {
            case .smoothgrad: return Float(mean)
            case .smoothgradSq: return Float(meanSq)
            case .vargrad: return Float(meanSq - mean * mean)
            }
        }
        var e = Explanation(method: method, map: Tensor(shape: shape, floats: map), target: inner.target!)
        var used = s
        used.std = sigma
        e.noiseTunnel = used
        if s.kind != .smoothgrad { e.mapKindOverride = .inputMagnitude }
        return e
    }

    /// `count` draws of N(0, σ²) as float32, from `rng`: for each draw, two SplitMix64 outputs
    /// a, b give u₁ = ((a >> 11) + 1) / 2⁵³ ∈ (0, 1] and u₂ = (b >> 11) / 2⁵³ ∈ [0, 1), and
    /// the draw is Float(σ · √(−2 ln u₁) · cos(2π u₂)) (Box–Muller, cosine branch), in float64.
    /// Sample n of a noise tunnel is draws n·count ..< (n+1)·count of SplitMix64(seed), in
    /// the NCHW order of the input.
    public static func noise(count: Int, sigma: Double, rng: inout SplitMix64) -> [Float] {
        (0..<count).map { _ in
            let u1 = (Double(rng.next() >> 11) + 1) / 9_007_199_254_740_992.0
            let u2 = Double(rng.next() >> 11) / 9_007_199_254_740_992.0
            return Float(sigma * (-2 * Foundation.log(u1)).squareRoot() * cos(2 * Double.pi * u2))
        }
    }
}
