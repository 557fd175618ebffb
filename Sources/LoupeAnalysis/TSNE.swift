import Foundation
import LoupeTensor

/// t-SNE (van der Maaten and Hinton, "Visualizing Data using t-SNE", JMLR 9, 2008) as
/// openTSNE runs it (Poličar, Stražar and Zupan, "openTSNE: a modular Python library for
/// t-SNE dimensionality reduction and embedding", JSS 109, 2024): every default below is
/// openTSNE's, with the file of openTSNE (1.0.x) it comes from in docs/tsne.md.
///
/// Input: N feature vectors of D values (`FeatureMatrix`). Output: N points in the plane,
/// `embedding[2 * i]`, `embedding[2 * i + 1]` for item i. The steps:
/// 1. PCA to `pcaDimensions` (50) when D is larger (`PCA.swift`);
/// 2. exact k nearest neighbours, k = min(N - 1, ⌊3 · perplexity⌋), and per point the
///    Gaussian bandwidth that gives the perplexity; P = (P + Pᵀ) / 2, normalised to sum 1
///    (`TSNE+Affinities.swift`);
/// 3. initialisation: the first two principal components, rescaled to standard deviation
///    1e-4 along the first, plus a jitter of 1 % of that;
/// 4. gradient descent with momentum and delta-bar-delta gains (Jacobs 1988), learning rate
///    N / exaggeration, early exaggeration 12 for 250 iterations, each step clipped to norm 5;
///    the repulsive forces by Barnes-Hut (van der Maaten 2014, `TSNE+BarnesHut.swift`)
///    below 10,000 points, by FFT-accelerated interpolation (Linderman et al. 2019,
///    `TSNE+Interpolation.swift`) from 10,000.
///
/// Deterministic for a seed whatever the thread count: work is split over points, and every
/// sum runs in a fixed order.
public struct TSNEOptions: Sendable, Equatable {
    /// How the repulsive forces are approximated.
    public enum Method: String, Sendable, Equatable, CaseIterable {
        /// Barnes-Hut below 10,000 points, interpolation from 10,000 (openTSNE's `auto`).
        case auto
        /// Barnes-Hut with a quadtree.
        case barnesHut = "bh"
        /// FFT-accelerated interpolation (FIt-SNE).
        case fft
    }

    /// The effective number of neighbours (openTSNE `perplexity=30`).
    public var perplexity: Double = 30
    /// Iterations after early exaggeration (`--iterations`; openTSNE 0.x's `n_iter=750`).
    public var iterations: Int = 750
    /// openTSNE `early_exaggeration="auto"` = 12.
    public var earlyExaggeration: Double = 12
    /// openTSNE `early_exaggeration_iter=250`.
    public var earlyIterations: Int = 250
    /// Exaggeration after the early phase (openTSNE `exaggeration=None`, that is 1).
    public var exaggeration: Double = 1
    /// nil: openTSNE's `learning_rate="auto"`, N / exaggeration in each phase.
    public var learningRate: Double? = nil
    /// Momentum during early exaggeration (openTSNE 0.x `initial_momentum=0.5`).
    public var initialMomentum: Double = 0.5
    /// Momentum afterwards (openTSNE `final_momentum=0.8`).
    public var finalMomentum: Double = 0.8
    /// openTSNE `max_step_norm=5`: a point moves at most this far in one step.
    public var maxStepNorm: Double = 5
    /// openTSNE `min_gain=0.01`.
    public var minGain: Double = 0.01
    /// Barnes-Hut's opening angle. 0.35, below openTSNE's `theta=0.5`: a cell is taken as one
    /// point less often, which costs about 1.5 times the Barnes-Hut time (still half of
    /// openTSNE's whole run at 5,000 points) and gave lower final KL divergences (median of 9
    /// seeds 2.1003 against 2.1023 at 0.5, openTSNE 2.1017; docs/tsne.md).
    public var theta: Double = 0.35
    /// Interpolation nodes per box and axis (openTSNE `n_interpolation_points=3`).
    public var interpolationPoints: Int = 3
    /// Fewest boxes per axis (openTSNE `min_num_intervals=50`).
    public var minIntervals: Int = 50
    /// Box side in embedding units (openTSNE `ints_in_interval=1`).
    public var intervalsPerUnit: Double = 1
    public var method: Method = .auto
    /// Points from which `auto` switches to interpolation (openTSNE: 10,000).
    public var interpolationThreshold: Int = 10_000
    /// Dimensions PCA reduces the features to first (0: no reduction).
    public var pcaDimensions: Int = 50
    /// Seeds the initial jitter.
    public var seed: UInt64 = 0
    /// KL divergence is evaluated (and `progress` called) every this many iterations.
    public var reportEvery: Int = 50

    public init() {}

    /// The method used for `n` points.
    public func resolvedMethod(points n: Int) -> Method {
        method == .auto ? (n < interpolationThreshold ? .barnesHut : .fft) : method
    }

    /// k, the neighbours each point's affinities use: min(N - 1, ⌊3 · perplexity⌋).
    public func neighbours(points n: Int) -> Int { min(n - 1, Int(3 * perplexity)) }

    /// The largest perplexity `n` points allow: 3 · perplexity neighbours must exist.
    public static func maxPerplexity(points n: Int) -> Double { Double(n - 1) / 3 }
}

/// What `tsne` returns.
public struct TSNEResult: Sendable {
    /// N × 2, row-major: item i at (`embedding[2i]`, `embedding[2i + 1]`).
    public var embedding: [Float]
    /// KL(P ‖ Q) of the final embedding, as openTSNE reports it (Q's normaliser from the same
    /// approximation as the gradient).
    public var klDivergence: Double
    /// The method that ran (`bh` or `fft`).
    public var method: TSNEOptions.Method
    /// Iterations run, early exaggeration included.
    public var iterations: Int
    /// Neighbours per point in P.
    public var neighbours: Int
}

/// Runs t-SNE on the rows of `x` (see `TSNEOptions`). `progress(iteration, kl)` is called
/// every `options.reportEvery` iterations (iterations counted from 1 over both phases).
/// Throws for fewer than 2 points, a perplexity that is not positive or too large for N
/// (the limit is (N - 1) / 3), and non-finite features.
public func tsne(_ x: FeatureMatrix, options: TSNEOptions = TSNEOptions(),
                 progress: ((Int, Double) -> Void)? = nil) throws -> TSNEResult {
    let n = x.rows
    guard n >= 2 else {
        throw LoupeError(.invalidArgument, "t-SNE needs at least 2 feature vectors; got \(n)")
    }
    guard x.columns > 0 else { throw LoupeError(.invalidArgument, "the feature vectors are empty (0 values each)") }
    guard options.perplexity > 0, options.perplexity.isFinite else {
        throw LoupeError(.invalidArgument, "perplexity must be positive; got \(options.perplexity)")
    }
    let limit = TSNEOptions.maxPerplexity(points: n)
    guard options.perplexity <= limit else {
        throw LoupeError(.invalidArgument, "perplexity \(options.perplexity) is too large for \(n) points: at most \(String(format: "%.2f", limit)) ((N - 1) / 3, since t-SNE uses 3 x perplexity neighbours)")
    }
    guard options.iterations >= 0, options.earlyIterations >= 0 else {
        throw LoupeError(.invalidArgument, "iterations must be 0 or more")
    }
    if let i = x.values.firstIndex(where: { !$0.isFinite }) {
        throw LoupeError(.invalidArgument, "feature vector \(i / x.columns) has a non-finite value (\(x.values[i])) at position \(i % x.columns)")
    }

    let pca = PCA(x, components: options.pcaDimensions > 0 ? min(options.pcaDimensions, x.columns) : x.columns,
                  reduceOnlyIfLarger: true)
    let reduced = pca.projected
    let k = options.neighbours(points: n)
    let p = try TSNEAffinities(reduced, neighbours: k, perplexity: options.perplexity)

    var optimizer = TSNEOptimizer(initial: pca.initialEmbedding(seed: options.seed), p: p, options: options)
    let total = options.earlyIterations + options.iterations
    optimizer.run(iterations: options.earlyIterations, exaggeration: options.earlyExaggeration,
                  momentum: options.initialMomentum, firstIteration: 1, progress: progress)
    optimizer.run(iterations: options.iterations, exaggeration: options.exaggeration,
                  momentum: options.finalMomentum, firstIteration: options.earlyIterations + 1, progress: progress)
    let kl = optimizer.gradient(exaggeration: 1, evaluateKL: true).kl
    return TSNEResult(embedding: optimizer.y.map { Float($0) }, klDivergence: kl,
                      method: optimizer.method, iterations: total, neighbours: k)
}

/// openTSNE's `gradient_descent`: momentum, delta-bar-delta gains, step clipping, the mean
/// removed after each step. The state (update, gains) carries over from one phase to the next.
struct TSNEOptimizer {
    /// N × 2, float64.
    var y: [Double]
    var update: [Double]
    var gains: [Double]
    let p: TSNEAffinities
    let options: TSNEOptions
    let method: TSNEOptions.Method
    var interpolation: TSNEInterpolation?

    init(initial: [Double], p: TSNEAffinities, options: TSNEOptions) {
        y = initial
        update = [Double](repeating: 0, count: initial.count)
        gains = [Double](repeating: 1, count: initial.count)
        self.p = p
        self.options = options
        method = options.resolvedMethod(points: initial.count / 2)
        if method == .fft {
            interpolation = TSNEInterpolation(nodesPerBox: options.interpolationPoints,
                                              minBoxes: options.minIntervals, boxWidth: options.intervalsPerUnit)
        }
    }

    var n: Int { y.count / 2 }

    /// The gradient without openTSNE's constant factor 4 (its convention, which its learning
    /// rate assumes) and, when asked, KL(P ‖ Q) with P divided back by the exaggeration.
    mutating func gradient(exaggeration: Double, evaluateKL: Bool) -> (grad: [Double], kl: Double) {
        var grad = [Double](repeating: 0, count: y.count)
        let z: Double
        switch method {
        case .fft: z = interpolation!.repulsiveForces(y, into: &grad)
        default: z = tsneBarnesHutRepulsion(y, theta: options.theta, into: &grad)
        }
        let (sumP, klTerms) = p.attractiveForces(y, exaggeration: exaggeration, into: &grad, evaluateKL: evaluateKL)
        guard evaluateKL else { return (grad, .nan) }
        // openTSNE: Σ p log(p / q_unnorm) + Σp · log Z, then for exaggerated P:
        // KL / exaggeration - log(exaggeration).
        var kl = klTerms + sumP * Foundation.log(z + tsneEpsilon)
        if exaggeration != 1 { kl = kl / exaggeration - Foundation.log(exaggeration) }
        return (grad, kl)
    }

    mutating func run(iterations: Int, exaggeration: Double, momentum: Double, firstIteration: Int,
                      progress: ((Int, Double) -> Void)?) {
        let rate = options.learningRate ?? Double(n) / exaggeration
        let minGain = options.minGain, maxStep = options.maxStepNorm
        for it in 0..<iterations {
            let number = firstIteration + it
            let report = progress != nil && options.reportEvery > 0 && number % options.reportEvery == 0
            let (grad, kl) = gradient(exaggeration: exaggeration, evaluateKL: report)
            if report { progress?(number, kl) }
            var sx = 0.0, sy = 0.0
            for i in 0..<n {
                for d in 0..<2 {
                    let j = 2 * i + d
                    // Delta-bar-delta: the gain grows where the step keeps its direction.
                    if (update[j] > 0) != (grad[j] > 0) || (update[j] == 0) != (grad[j] == 0) {
                        gains[j] += 0.2
                    } else {
                        gains[j] = gains[j] * 0.8 + minGain
                    }
                    update[j] = momentum * update[j] - rate * gains[j] * grad[j]
                }
                let norm = (update[2 * i] * update[2 * i] + update[2 * i + 1] * update[2 * i + 1]).squareRoot()
                if norm > maxStep {
                    update[2 * i] = update[2 * i] / norm * maxStep
                    update[2 * i + 1] = update[2 * i + 1] / norm * maxStep
                }
                y[2 * i] += update[2 * i]
                y[2 * i + 1] += update[2 * i + 1]
                sx += y[2 * i]
                sy += y[2 * i + 1]
            }
            sx /= Double(n)
            sy /= Double(n)
            for i in 0..<n {
                y[2 * i] -= sx
                y[2 * i + 1] -= sy
            }
        }
    }
}

/// openTSNE's EPSILON: the float64 machine epsilon.
let tsneEpsilon = Double.ulpOfOne

/// Splits 0..<n into chunks of a fixed size (independent of the thread count) and runs them
/// on Loupe's threads; per-chunk results combined in chunk order keep sums deterministic.
func forEachChunk(_ n: Int, chunk: Int, _ body: (Range<Int>) -> Void) {
    let chunks = (n + chunk - 1) / chunk
    parallelFor(chunks) { c in body((c * chunk)..<min(n, (c + 1) * chunk)) }
}
