import Foundation
import LoupeGraph
import LoupeTensor

/// Integrated Gradients. Sundararajan, Taly and Yan, "Axiomatic Attribution for Deep
/// Networks", ICML 2017.
///
/// For an input x and a baseline x′ (both [1, C, H, W]) the attribution of input element i is
///
///     IG_i(x) = (x_i − x′_i) · ∫₀¹ ∂s_c(x′ + α (x − x′)) / ∂x_i dα,
///
/// the path integral of the gradient along the straight line from x′ to x. The integral is a
/// quadrature Σ_k w_k g(α_k) over `steps` points (`Rule`); the gradients of all points come
/// from batched forward and backward passes, `batch` points at a time. Output: the signed
/// C×H×W map (Captum's `IntegratedGradients` with `multiply_by_inputs=True`). The
/// attributions add up to s_c(x) − s_c(x′) up to the quadrature error (`Completeness`).
public enum IntegratedGradients {
    /// The quadrature rule over α ∈ [0, 1].
    public enum Rule: String, Sendable, CaseIterable {
        /// Gauss–Legendre with `steps` nodes, exact for polynomials of degree 2·steps − 1
        /// (Captum's default `gausslegendre`: nodes (1 + xₖ)/2, weights wₖ/2, as NumPy's
        /// `leggauss`).
        case gaussLegendre = "gauss-legendre"
        /// The trapezoid rule on `steps` equally spaced points α = k/(steps − 1), weights
        /// 1/(steps − 1) with the two end points halved (summing to 1). Captum's
        /// `riemann_trapezoid` takes the same points with weights 1/steps, which sum to
        /// (steps − 1)/steps: its attributions are (steps − 1)/steps times these.
        case trapezoid
    }

    /// The reference input x′.
    public enum Baseline: Sendable {
        /// Every element equal to this value (0: Captum's default baseline).
        case constant(Float)
        /// The input blurred with a Gaussian of this σ in pixels (nil: 5 % of the shorter
        /// side), per channel, as `torchvision.transforms.functional.gaussian_blur`.
        case blur(sigma: Double?)
        /// A tensor of the input's shape; `source` names it in messages (a file).
        case tensor(Tensor, source: String)
    }

    public struct Settings: Sendable {
        public var steps = 50
        public var rule = Rule.gaussLegendre
        public var baseline = Baseline.constant(0)
        /// Integration points per forward and backward pass (10: 50 steps in 5 passes; ResNet-50
        /// at 224×224 then peaks near 1.2 GB, against 2.8 GB at 25).
        public var batch = 10
        public init() {}
    }

    public static func explain(_ model: ExplainableModel, _ x: Tensor, _ request: GradientRequest,
                               settings s: Settings, progress: ((Int, Int) -> Void)? = nil) throws -> Explanation {
        guard x.rank == 4, x.shape[0] == 1 else {
            throw LoupeError.shape("integrated gradients need one NCHW image [1, C, H, W], got \(describe(x.shape))")
        }
        let (alphas, weights) = try quadrature(s.rule, steps: s.steps)
        let x0 = try baselineTensor(s.baseline, for: x)
        let target = try request.target ?? model.resolveTarget(nil, logits: model.forward(x).logits, labels: [])
        let plane = x.count
        let batch = model.takesBatches ? max(1, s.batch) : 1

        // Σ_k w_k ∂s_c/∂x at x′ + α_k (x − x′), accumulated in float64.
        var total = [Double](repeating: 0, count: plane)
        let xs = x.floats, bs = x0.floats
        var done = 0
        while done < alphas.count {
            let n = min(batch, alphas.count - done)
            let points = try Tensor(shape: [n] + Array(x.shape.dropFirst())) { buf in
                for b in 0..<n {
                    let a = Float(alphas[done + b])
                    for i in 0..<plane { buf[b * plane + i] = bs[i] + a * (xs[i] - bs[i]) }
                }
            }
            let (g, _) = try model.inputGradients(batch: points, target: target, score: request.score)
            g.floats.withUnsafeBufferPointer { gp in
                for b in 0..<n {
                    let w = weights[done + b]
                    for i in 0..<plane { total[i] += w * Double(gp[b * plane + i]) }
                }
            }
            done += n
            progress?(done, alphas.count)
        }
        let map = (0..<plane).map { Float(total[$0] * Double(xs[$0] - bs[$0])) }

        // Completeness: one more forward pass, of x and x′.
        let ends = Tensor(shape: [2] + Array(x.shape.dropFirst()), floats: xs + bs)
        let endScores: [Double]
        if batch >= 2 {
            let l = try model.executor.run([model.inputName: ends], keep: [model.logitsName])[model.logitsName]!
            endScores = ExplainableModel.scores(l, target: target, kind: request.score)
        } else {
            endScores = try [x, x0].map { t in
                let l = try model.executor.run([model.inputName: t], keep: [model.logitsName])[model.logitsName]!
                return ExplainableModel.scores(l, target: target, kind: request.score)[0]
            }
        }
        let sum = map.reduce(0.0) { $0 + Double($1) }
        var e = Explanation(method: .integratedGradients, map: Tensor(shape: Array(x.shape.dropFirst()), floats: map), target: target)
        e.completeness = Completeness(attributionSum: sum, scoreInput: endScores[0], scoreBaseline: endScores[1])
        return e
    }

    /// The points α_k ∈ [0, 1] and weights w_k of `rule` with `steps` points.
    public static func quadrature(_ rule: Rule, steps n: Int) throws -> (alphas: [Double], weights: [Double]) {
        switch rule {
        case .gaussLegendre:
            guard n >= 1 else { throw LoupeError(.invalidArgument, "integrated gradients need at least 1 step, got \(n)") }
            let (x, w) = gaussLegendre(n)
            return (x.map { 0.5 * (1 + $0) }, w.map { 0.5 * $0 })
        case .trapezoid:
            guard n >= 2 else { throw LoupeError(.invalidArgument, "the trapezoid rule needs at least 2 steps (its two end points), got \(n)") }
            let h = 1 / Double(n - 1)
            var w = [Double](repeating: h, count: n)
            w[0] /= 2
            w[n - 1] /= 2
            // The points as torch.linspace(0, 1, n) makes them in float32 (Captum's alphas).
            return ((0..<n).map { Double(Float(Double($0) * h)) }, w)
        }
    }

    /// Nodes (ascending, in [−1, 1]) and weights of the n-point Gauss–Legendre rule: roots of
    /// the Legendre polynomial P_n by Newton's method from Tricomi's estimate
    /// cos(π(k − 1/4)/(n + 1/2)), weights 2 / ((1 − x²) P_n′(x)²), all in float64.
    static func gaussLegendre(_ n: Int) -> ([Double], [Double]) {
        /// P_n(z) and P_n′(z), by the three-term recurrence (|z| < 1).
        func legendre(_ z: Double) -> (Double, Double) {
            var p0 = 1.0, p1 = z
            if n > 1 {
                for j in 2...n {
                    let p2 = (Double(2 * j - 1) * z * p1 - Double(j - 1) * p0) / Double(j)
                    p0 = p1
                    p1 = p2
                }
            }
            return (p1, Double(n) * (z * p1 - p0) / (z * z - 1))
        }
        var x = [Double](repeating: 0, count: n), w = [Double](repeating: 0, count: n)
        for k in 0..<((n + 1) / 2) {
            var z = cos(Double.pi * (Double(k) + 0.75) / (Double(n) + 0.5))
            for _ in 0..<100 {
                let (p, dp) = legendre(z)
                let dz = p / dp
                z -= dz
                if abs(dz) <= 1e-16 { break }
            }
            if n % 2 == 1 && k == n / 2 { z = 0 }
            let dp = legendre(z).1
            let weight = 2 / ((1 - z * z) * dp * dp)
            (x[k], x[n - 1 - k]) = (-z, z)
            (w[k], w[n - 1 - k]) = (weight, weight)
        }
        return (x, w)
    }

    /// The baseline as a tensor of x's shape [1, C, H, W].
    public static func baselineTensor(_ b: Baseline, for x: Tensor) throws -> Tensor {
        switch b {
        case .constant(let v):
            return Tensor(shape: x.shape, floats: [Float](repeating: v, count: x.count))
        case .blur(let sigma):
            let s = sigma ?? 0.05 * Double(min(x.shape[2], x.shape[3]))
            return try GaussianBlur.apply(x, sigma: s)
        case .tensor(let t, let source):
            guard t.shape == x.shape || (t.shape == Array(x.shape.dropFirst()) && t.count == x.count) else {
                throw LoupeError(.invalidArgument, "the baseline \(source) has shape \(describe(t.shape)) but the input has \(describe(x.shape)); give a baseline of the input's size")
            }
            guard t.isFloat else { throw LoupeError(.invalidArgument, "the baseline \(source) is not a float tensor") }
            return Tensor(shape: x.shape, floats: t.floats)
        }
    }
}
