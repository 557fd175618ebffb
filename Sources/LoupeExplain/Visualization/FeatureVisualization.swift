import Foundation
import LoupeGraph
import LoupeTensor

/// Feature visualisation by gradient ascent on the input. Erhan, Bengio, Courville and
/// Vincent, "Visualizing Higher-Layer Features of a Deep Network", 2009; Simonyan, Vedaldi and
/// Zisserman, "Deep Inside Convolutional Networks", ICLR workshop 2014 (class models, the
/// `naive` method); Olah, Mordvintsev and Schubert, "Feature Visualization", Distill 2017
/// (the regularised default, following Lucent's `render_vis`, lucent/optvis/render.py).
///
/// Every step: the parameters give a unit image u [C, H, W] (`ImageParameterization`); a
/// random `StandardTransforms` draw warps it; it is resized (bilinear, `align_corners=True`)
/// to the model's input size when that differs (Lucent resizes images below 224 to 224; Loupe
/// to the model's declared size, or 224 when the input size is dynamic and the image smaller);
/// `InputValues` maps it to the model's values; one forward and one backward pass give the
/// objective's gradient on the input (seeded at the objective's tensor); the adjoints carry it
/// back to the parameters; `Penalties` are subtracted; Adam takes a step.
///
/// `naive` is the textbook method instead (`GradientAscent`): the parameters are the model's
/// input values themselves (at the image size, resized to the model's when they differ), from
/// the model's zero input; no transforms; every step adds η(∇S − 2λx). Nothing keeps them in
/// the input range, so the naive unit image may leave [0, 1] (the PNG clips it).
///
/// For the first `redirectedReluSteps` steps the ReLUs pass gradient by Lucid's redirected
/// rule (`ReluRule.redirected`), which differs from the true gradient only where no gradient
/// at all reaches a ReLU, e.g. for a unit that does not activate on the start image: without
/// it such a unit's picture stays gray (lucent#34, lucid#68). Lucid keeps the rule for the
/// whole run; Loupe lets the true gradient take over once the unit is alive.
///
/// Output: the final unit image [C, H, W] (RGB order for 3 channels, in [0, 1] for the default), the
/// objective on it (untransformed), the model's class scores for it, and the objective
/// at each step. Deterministic for a seed: all randomness comes from `VisualizationRandom`.
public enum FeatureVisualization {
    public struct Settings: Sendable {
        /// Lucent's `thresholds=(512,)`.
        public var steps = 512
        /// nil: Lucent's Adam learning rate 0.05, or `naiveLearningRate` for `naive`.
        public var learningRate: Float?
        public var seed: UInt64 = 0
        /// The optimised image's size; nil: the model's input size (224 × 224 when dynamic).
        public var height: Int?, width: Int?
        /// nil: `.gray` (Lucent's start), or `.zero` for `naive` (Simonyan et al.'s).
        public var start: Start?
        /// The textbook method of Simonyan, Vedaldi and Zisserman 2014 (`GradientAscent`): plain
        /// gradient steps on the model's input values from the zero input, L2 decay λ‖x‖²
        /// (`penalties.l2`, or `naiveL2` when 0); no parameterisation, transforms or clipping.
        public var naive = false
        /// For the default: penalties on the unit image. For `naive`: only `l2`, on the model's
        /// input values.
        public var penalties = Penalties()
        /// Lucent's `decay_power`.
        public var decayPower = 1.0
        public var transforms = StandardTransforms()
        /// nil: 16, or 0 for `naive` (the textbook method has no redirected ReLU).
        public var redirectedReluSteps: Int?

        public enum Start: Sendable, Equatable {
            /// Lucent's start: a random spectrum of sd 0.01, nearly uniform mid-gray (for
            /// `naive`: mid-gray plus normal noise of sd 0.01).
            case gray
            /// Uniformly random pixels in [0.25, 0.75] from the seed.
            case random
            /// The model's zero input: the preprocessing mean as an image (black when the
            /// preprocessing subtracts no mean). Simonyan et al.'s start, for a model trained on
            /// zero-centred data.
            case zero
            /// This unit image, [C, H, W] at the image size.
            case image([Float])
        }

        /// The L2 weight λ of `naive` when `penalties.l2` is 0. The paper gives none. Chosen
        /// on the shapes sample models (inputs in [0, 1]) from 0.01, 0.1 and 1 so that the image
        /// spans about the input range (1st to 99th percentile −0.5…0.5; 0.01: −5…5; 1: ±0.05
        /// with the class no longer reached); it scales the image, so models with other input
        /// or gradient scales may want another (docs/visualize.md).
        public static let naiveL2: Float = 0.1
        /// The step size η of `naive`'s gradient steps. The paper gives none; with `naiveL2`
        /// the decay factor per step is 1 − 2ηλ = 0.99, so 512 steps reach the fixed point of a
        /// linear score to within 0.99⁵¹² ≈ 0.6 %.
        public static let naiveLearningRate: Float = 0.05

        public init() {}
    }

    public struct Result: Sendable {
        /// The unit image [C, H, W].
        public var image: Tensor
        /// The objective on the final image, untransformed.
        public var objective: Float
        /// The model's class scores (logits) for the final image.
        public var logits: [Float]
        /// The objective at each step, on that step's transformed image.
        public var history: [Float]
        public var steps: Int
        /// The layer's node name for channel and neuron objectives.
        public var layer: String?
        /// The objective's input gradient was exactly zero at the first step (every path from
        /// the input to the objective blocked, e.g. by ReLUs all at or below 0 on the start
        /// image): with `naive`, which has no redirected ReLU, the image then never moves.
        public var zeroGradientAtStart = false
    }

    /// The model's input [N, C, H, W] as (C, H?, W?), or a reason it cannot be visualised.
    public static func inputGeometry(_ model: ExplainableModel) throws -> (channels: Int, height: Int?, width: Int?) {
        let input = model.graph.inputs[0]
        guard input.dtype.isFloatingPoint else {
            throw LoupeError(.invalidArgument, "input '\(input.name)' is \(input.dtype.name), not a float image: gradient ascent needs a float input")
        }
        guard let d = input.dims, d.count == 4 else {
            throw LoupeError(.invalidArgument, "input '\(input.name)' has shape \(input.dims.map { "\($0.map { $0.value.map(String.init) ?? "?" })" } ?? "undeclared"); visualisation needs an image input [N, C, H, W]")
        }
        guard let c = d[1].value, c > 0 else {
            throw LoupeError(.invalidArgument, "input '\(input.name)' has a dynamic channel count; visualisation needs a known one")
        }
        return (c, d[2].value, d[3].value)
    }

    public static func run(_ model: ExplainableModel, objective: VisualizationObjective, input values: InputValues,
                           settings: Settings, onStep: ((_ step: Int, _ objective: Float, _ image: () -> Tensor) -> Void)? = nil) throws -> Result {
        let geo = try inputGeometry(model)
        try values.check(channels: geo.channels)
        let c = geo.channels
        let h = settings.height ?? geo.height ?? 224, w = settings.width ?? geo.width ?? 224
        guard h > 0, w > 0 else { throw LoupeError(.invalidArgument, "image size \(h)x\(w) must be positive") }
        // Lucent's render_vis: images smaller than 224 go to the model at 224 × 224.
        let mh = geo.height ?? (h < 224 || w < 224 ? 224 : h)
        let mw = geo.width ?? (h < 224 || w < 224 ? 224 : w)
        let naive = settings.naive
        if naive && (settings.penalties.totalVariation != 0 || settings.penalties.blur != 0) {
            throw LoupeError(.invalidArgument, "the naive method is the textbook one with L2 decay only; total variation and blur apply to the default method")
        }
        let learningRate = settings.learningRate ?? (naive ? Settings.naiveLearningRate : 0.05)
        let start = settings.start ?? (naive ? .zero : .gray)
        let reluSteps = settings.redirectedReluSteps ?? (naive ? 0 : 16)
        let param = ImageParameterization(channels: c, height: h, width: w, basis: .fourier(decayPower: settings.decayPower))
        let plane = h * w

        let probe = try Tensor(zeros: [1, c, mh, mw])
        let target: VisualizationObjective.Resolved
        target = try objective.resolve(model, for: probe)

        // The start as a unit image; nil for Lucent's random spectrum.
        var random = VisualizationRandom(seed: settings.seed)
        var startImage: [Float]?
        switch start {
        case .gray:
            startImage = naive ? (0..<c * plane).map { _ in 0.5 + random.normal() * FourierImage.initialStandardDeviation } : nil
        case .random:
            startImage = (0..<c * plane).map { _ in 0.25 + 0.5 * Float(random.uniform()) }
        case .zero:
            startImage = values.toUnit([Float](repeating: 0, count: c * plane), channels: c, plane: plane)
        case .image(let u):
            guard u.count == c * plane else {
                throw LoupeError(.invalidArgument, "the start image has \(u.count) values; expected \(c)x\(h)x\(w)")
            }
            startImage = u
        }
        // The parameters: for the default those of `ImageParameterization`, optimised by Adam;
        // for naive the model's input values at the image size, by `GradientAscent`.
        var p: [Float]
        if naive {
            p = values.toModel(startImage!, channels: c, plane: plane)
        } else {
            p = startImage.map(param.parameters(for:)) ?? param.initialParameters(random: &random)
        }
        var adam = Adam(count: naive ? 0 : p.count, learningRate: learningRate)
        let ascent = GradientAscent(learningRate: learningRate, l2: settings.penalties.l2 != 0 ? settings.penalties.l2 : Settings.naiveL2)
        func unitImage(_ p: [Float]) -> [Float] { naive ? values.toUnit(p, channels: c, plane: plane) : param.image(p) }

        /// The model's input for the image (unit values for the default, model values for
        /// naive) after the warps and a resize to the model's input size.
        func toModel(_ image: [Float], warps: [Warp]) -> (Tensor, [Warp]) {
            var v = image, warps = warps
            var (vh, vw) = (h, w)
            for wp in warps { v = wp.apply(v, channels: c); (vh, vw) = (wp.outHeight, wp.outWidth) }
            if (vh, vw) != (mh, mw) {
                let r = Warp.resize(height: vh, width: vw, toHeight: mh, toWidth: mw)
                v = r.apply(v, channels: c)
                warps.append(r)
            }
            return (Tensor(shape: [1, c, mh, mw], floats: naive ? v : values.toModel(v, channels: c, plane: mh * mw)), warps)
        }

        var history: [Float] = []
        history.reserveCapacity(settings.steps)
        var zeroAtStart = false
        for step in 0..<settings.steps {
            let u = naive ? p : param.image(p)
            let drawn = naive ? [] : settings.transforms.sample(height: h, width: w, random: &random)
            let (x, warps) = toModel(u, warps: drawn)
            let rules = BackwardRules(relu: step < reluSteps ? .redirected : .standard)
            let r: GradientResult
            do {
                r = try model.executor.gradients(feeds: [model.inputName: x], output: target.tensor, seed: { target.seed($0) },
                                                 wrt: [model.inputName], rules: rules)
            } catch let e as LoupeError where e.message.contains("no differentiable path") {
                throw LoupeError(.invalidArgument, "\(objective.title): the layer has no differentiable path to the input '\(model.inputName)', so its gradient cannot change the image")
            }
            history.append(target.value(r.values[target.tensor]!))
            // Back through the values (default only), the warps (in reverse) and the parameterisation.
            var g = r.gradients[model.inputName]!.floats
            if step == 0 { zeroAtStart = !g.contains { $0 != 0 } }
            if !naive { g = values.adjoint(g, channels: c, plane: mh * mw) }
            for wp in warps.reversed() { g = wp.adjoint(g, channels: c) }
            if naive {
                ascent.step(&p, gradient: g)
            } else {
                if !settings.penalties.isEmpty {
                    let pg = settings.penalties.evaluate(u, channels: c, height: h, width: w).gradient
                    for i in g.indices { g[i] -= pg[i] }
                }
                var gp = param.backward(g, image: u)
                for i in gp.indices { gp[i] = -gp[i] }   // Adam descends the loss −objective
                adam.step(&p, gradient: gp)
            }
            if let onStep {
                onStep(step + 1, history.last!, { Tensor(shape: [c, h, w], floats: unitImage(p)) })
            }
        }

        let (x, _) = toModel(naive ? p : param.image(p), warps: [])
        let v = try model.executor.run([model.inputName: x], keep: [target.tensor, model.logitsName])
        let l = v[model.logitsName]!
        let k = l.shape.last ?? 0
        return Result(image: Tensor(shape: [c, h, w], floats: unitImage(p)), objective: target.value(v[target.tensor]!),
                      logits: Array(l.floats[0..<k]), history: history, steps: settings.steps, layer: target.node,
                      zeroGradientAtStart: zeroAtStart)
    }
}
