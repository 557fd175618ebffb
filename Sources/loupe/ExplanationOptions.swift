import ArgumentParser
import Foundation
import LoupeExplain
import LoupeFormats
import LoupeGraph
import LoupeTensor

/// The explanation parameters shared by every command that runs a method (`explain`,
/// `report`, `bench --method`). How many occluded images go through the model at once stays
/// with each command, because `bench --batch` already means the forward pass's batch.
struct ExplanationOptions: ParsableArguments {
    @Option(help: "The class to explain: an index, or a label from --labels. Default: each image's predicted class.")
    var target: String?

    @Option(help: ArgumentHelp("The layer for \(Method.names(Method.allCases.filter(\.takesLayer), last: "and")): a node name as `loupe inspect` lists it, or a tensor name. Default: the last layer with a spatial output."))
    var layer: String?

    @Option(help: "What the gradient methods and occlusion score: logit (the pre-softmax score) or probability.")
    var score: String = "logit"

    @Option(help: "Occlusion window as HxW.")
    var window: String = "16x16"

    @Option(help: "Occlusion stride as HxW.")
    var stride: String = "8x8"

    @Option(parsing: .unconditional, help: ArgumentHelp("The baseline, in the model's input space (after preprocessing), for integrated-gradients and occlusion (what the window is filled with): zero, a number, blur (the input blurred with a Gaussian of sigma 5 % of its shorter side), blur:SIGMA (sigma in pixels), or an image file (preprocessed like the input) or .npy tensor of the input's shape.", valueName: "zero|NUMBER|blur[:SIGMA]|FILE"))
    var baseline: String = "zero"

    @Flag(name: .customLong("occlusion-plain"), help: "Occlusion: run every occluded image through the whole model, instead of the default incremental inference (which recomputes only what each window changes and gives the same map); for comparisons and tests.")
    var occlusionPlain = false

    @Flag(help: "Occlusion: approximate incremental inference (Nakandala et al. 2019): changed regions cut by --field-threshold and adaptive drill-down (--drill-down-stride, --drill-down-fraction). Faster, not exact.")
    var approximate = false

    @Option(name: .customLong("field-threshold"), parsing: .unconditional, help: "With --approximate: the projective-field threshold tau in (0, 1]; a changed region longer than tau times a layer's height or width is cut to that length around its centre (1: no cut). Default: 0.5.")
    var fieldThreshold: Double?

    @Option(name: .customLong("drill-down-stride"), parsing: .unconditional, help: "With --approximate: the windows first run every K-th position per axis (K times the stride); 1 turns drill-down off. Default: 2.")
    var drillDownStride: Int?

    @Option(name: .customLong("drill-down-fraction"), parsing: .unconditional, help: "With --approximate: the fraction of the other windows that then run, those with the highest drop interpolated from the first ones (the rest keep the interpolated drop). Default: 0.25.")
    var drillDownFraction: Double?

    @Option(parsing: .unconditional, help: "Integrated gradients: the number of points on the path from the baseline to the input (gradient evaluations).")
    var steps: Int = 50

    @Option(help: ArgumentHelp("Integrated gradients: the quadrature rule, gauss-legendre (Captum's default; exact for polynomials of degree 2*steps-1) or trapezoid (equally spaced points including both ends).", valueName: "gauss-legendre|trapezoid"))
    var integration: String = IntegratedGradients.Rule.gaussLegendre.rawValue

    @Option(name: .customLong("steps-batch"), parsing: .unconditional, help: "Integrated gradients: how many path points go through the model in one forward and backward pass.")
    var stepsBatch: Int = IntegratedGradients.Settings().batch

    @Option(name: .customLong("noise-tunnel"), help: ArgumentHelp("Smooth the gradient methods (\(Method.names(Method.allCases.filter(\.takesNoiseTunnel), last: "and"))) over noisy copies of the input: smoothgrad (mean of the maps), smoothgrad-sq (mean of their squares) or vargrad (their variance), as Captum's NoiseTunnel. Default: no smoothing.", valueName: "smoothgrad|smoothgrad-sq|vargrad"))
    var noiseTunnel: String?

    @Option(name: .customLong("noise-samples"), parsing: .unconditional, help: "Noise tunnel: the number of noisy copies.")
    var noiseSamples: Int = NoiseTunnel.Settings().samples

    @Option(name: .customLong("noise-std"), parsing: .unconditional, help: "Noise tunnel: the standard deviation of the Gaussian noise, absolute, in the model's input space (after preprocessing), as Captum's stdevs. Default: 15 % of the input's value range (max - min).")
    var noiseStd: Double?

    @Option(name: .customLong("noise-seed"), help: "Noise tunnel: the seed of Loupe's noise generator (the same seed gives the same noise and the same map).")
    var noiseSeed: UInt64 = 0

    @Option(name: .customLong("max-channels"), parsing: .unconditional, help: "Score-CAM runs one forward pass per channel of the layer: a layer with more channels than this is an error that says how long it would take.")
    var maxChannels: Int = 2048

    func validate() throws {
        guard ExplainableModel.ScoreKind(rawValue: score) != nil else { throw ValidationError("--score must be logit or probability") }
        _ = try parseHxW(window, "--window")
        _ = try parseHxW(stride, "--stride")
        _ = try parsedBaseline()
        guard let rule = IntegratedGradients.Rule(rawValue: integration) else {
            throw ValidationError("--integration must be gauss-legendre or trapezoid, got '\(integration)'")
        }
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1, got \(steps)") }
        if rule == .trapezoid && steps < 2 { throw ValidationError("--steps must be at least 2 with --integration trapezoid (its two end points), got \(steps)") }
        guard stepsBatch >= 1 else { throw ValidationError("--steps-batch must be at least 1, got \(stepsBatch)") }
        if let noiseTunnel, NoiseTunnel.Kind(rawValue: noiseTunnel) == nil {
            throw ValidationError("--noise-tunnel must be smoothgrad, smoothgrad-sq or vargrad, got '\(noiseTunnel)'")
        }
        guard noiseSamples >= 1 else { throw ValidationError("--noise-samples must be at least 1, got \(noiseSamples)") }
        if let noiseStd { guard noiseStd >= 0, noiseStd.isFinite else { throw ValidationError("--noise-std must be a non-negative number, got \(noiseStd)") } }
        if !approximate, fieldThreshold != nil || drillDownStride != nil || drillDownFraction != nil {
            throw ValidationError("--field-threshold, --drill-down-stride and --drill-down-fraction need --approximate")
        }
        if approximate && occlusionPlain { throw ValidationError("--approximate and --occlusion-plain exclude each other: the approximation is of the incremental inference") }
        if let t = fieldThreshold, !(t > 0 && t <= 1) { throw ValidationError("--field-threshold must be in (0, 1], got \(t)") }
        if let k = drillDownStride, k < 1 { throw ValidationError("--drill-down-stride must be at least 1, got \(k)") }
        if let r = drillDownFraction, !(r >= 0 && r <= 1) { throw ValidationError("--drill-down-fraction must be in [0, 1], got \(r)") }
        guard maxChannels >= 1 else { throw ValidationError("--max-channels must be at least 1, got \(maxChannels)") }
    }

    /// What `--baseline` says, before any file is read.
    enum BaselineSpec: Equatable {
        case constant(Float), blur(Double?), file(String)
    }

    func parsedBaseline() throws -> BaselineSpec {
        if baseline == "zero" { return .constant(0) }
        if let v = Float(baseline) {
            guard v.isFinite else { throw ValidationError("--baseline must be finite, got \(baseline)") }
            return .constant(v)
        }
        if baseline == "blur" { return .blur(nil) }
        if baseline.hasPrefix("blur:") {
            guard let s = Double(baseline.dropFirst(5)), s > 0, s.isFinite else {
                throw ValidationError("--baseline blur:SIGMA needs a positive sigma in pixels, got '\(baseline)'")
            }
            return .blur(s)
        }
        guard FileManager.default.fileExists(atPath: baseline) else {
            throw ValidationError("--baseline: '\(baseline)' is neither zero, a number, blur, blur:SIGMA nor an existing image or .npy file")
        }
        return .file(baseline)
    }

    /// Checks that the methods can use the options given: a noise tunnel only with a method it smooths.
    func check(methods: [Method]) throws {
        if let noiseTunnel, !methods.isEmpty, !methods.contains(where: \.takesNoiseTunnel) {
            throw LoupeError(.invalidArgument, "--noise-tunnel \(noiseTunnel) smooths \(Method.names(Method.allCases.filter(\.takesNoiseTunnel))), not \(Method.names(methods, last: "and"))")
        }
    }

    var scoreKind: ExplainableModel.ScoreKind { ExplainableModel.ScoreKind(rawValue: score)! }

    /// The library's options for one image: `target` resolved by the caller (it needs the
    /// image's logits and the labels), `layer` as given unless the caller resolved it.
    ///
    /// `methods` are checked (`check(methods:)`); a `--baseline` file is read for `graph`'s
    /// input, an image preprocessed with `image` (nil: only .npy baselines).
    func options(target: Int?, layer: String? = nil, occlusionBatch: Int = Occlusion.Settings().batch,
                 methods: [Method] = [], graph: Graph? = nil, image: ImageOptions? = nil) throws -> Method.Options {
        try check(methods: methods)
        var occ = Occlusion.Settings()
        occ.window = try parseHxW(window, "--window")
        occ.stride = try parseHxW(stride, "--stride")
        occ.batch = occlusionBatch
        occ.mode = occlusionPlain ? .plain : .incremental
        if approximate {
            var a = Occlusion.Approximation()
            if let t = fieldThreshold { a.threshold = t }
            if let k = drillDownStride { a.drillDownStride = k }
            if let r = drillDownFraction { a.drillDownFraction = r }
            occ.approximation = a
        }
        var ig = IntegratedGradients.Settings()
        ig.steps = steps
        ig.rule = IntegratedGradients.Rule(rawValue: integration) ?? .gaussLegendre
        ig.batch = stepsBatch
        switch try parsedBaseline() {
        case .constant(let v):
            occ.baseline = v
            ig.baseline = .constant(v)
        case .blur(let sigma):
            ig.baseline = .blur(sigma: sigma)
            occ.replacement = .blur(sigma: sigma)
        case .file(let path):
            // Read only when a method uses it.
            if methods.isEmpty || methods.contains(.integratedGradients) || methods.contains(.occlusion) {
                ig.baseline = .tensor(try readBaseline(path, graph: graph, image: image), source: path)
                occ.replacement = ig.baseline
            }
        }
        var o = Method.Options(target: target, score: scoreKind, layer: layer ?? self.layer, occlusion: occ)
        o.integratedGradients = ig
        if let kind = noiseTunnel.flatMap(NoiseTunnel.Kind.init(rawValue:)) {
            var nt = NoiseTunnel.Settings(kind: kind)
            nt.samples = noiseSamples
            nt.std = noiseStd
            nt.seed = noiseSeed
            o.noiseTunnel = nt
        }
        // Score-CAM and Ablation-CAM batch their forward passes as occlusion does.
        o.scoreCAM.batch = occlusionBatch
        o.scoreCAM.maxChannels = maxChannels
        o.ablationCAM.batch = occlusionBatch
        return o
    }

    /// A `--baseline` file: a .npy tensor as it is, or an image preprocessed like the inputs.
    func readBaseline(_ path: String, graph: Graph?, image: ImageOptions?) throws -> Tensor {
        if path.lowercased().hasSuffix(".npy") {
            do { return try NPY.read(path: path) } catch let e as LoupeError { throw e.context(path) }
        }
        guard let image, let graph, let input = graph.inputs.first else {
            throw LoupeError(.invalidArgument, "--baseline \(path): this command takes a .npy baseline (a tensor of the input's shape), not an image")
        }
        let (p, h, w) = try image.resolve(for: input)
        do { return try p.tensor(from: try image.readImage(path), height: h, width: w) } catch let e as LoupeError { throw e.context(path) }
    }
}

extension Method {
    /// "saliency, deconvnet, ... or activations", for help text and messages.
    static func names(_ methods: [Method] = Method.allCases, last: String = "or") -> String {
        let n = methods.map(\.rawValue)
        return n.count < 2 ? n.joined() : n.dropLast().joined(separator: ", ") + " \(last) " + n.last!
    }

    /// Help for a method option: the names, with `or all` when `all` is accepted.
    static func help(list: Bool, all: Bool) -> String {
        let names = Method.allCases.map(\.rawValue).joined(separator: ", ")
        switch (list, all) {
        case (true, _): return "Comma-separated methods among \(names); or all."
        case (false, true): return "\(names), or all."
        case (false, false): return "One of \(names)."
        }
    }

    /// The methods that run one forward pass per channel of the layer (Score-CAM: the image
    /// masked by each feature map; Ablation-CAM: each channel ablated), 2048 passes on
    /// ResNet-50's last block: `explain --method all` leaves them out; they run when named.
    static let slow: [Method] = [.scoreCAM, .ablationCAM]

    /// Parses a method option: one name, a comma-separated list when `list`, or `all` when
    /// `all` is accepted (in a list too: `all,score-cam`); `all` leaves out `slow` unless
    /// `slowInAll`. Errors name `flag` and list the valid names.
    static func parse(_ s: String, flag: String, list: Bool = false, all: Bool = false, slowInAll: Bool = true) throws -> [Method] {
        let every = slowInAll ? Method.allCases : Method.allCases.filter { !slow.contains($0) }
        if all && s == "all" { return every }
        let names = list ? s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } : [s]
        guard !names.isEmpty, names.allSatisfy({ !$0.isEmpty }) else { throw ValidationError("\(flag) is empty") }
        var chosen: [Method] = []
        for n in names {
            if all && n == "all" { chosen += every; continue }
            guard let m = Method(rawValue: n) else {
                throw ValidationError("\(flag): unknown method '\(n)'; valid: \(Method.allCases.map(\.rawValue).joined(separator: ", "))\(all ? ", or all" : "")")
            }
            chosen.append(m)
        }
        // Each method once, in the order first named.
        var seen = Set<Method>()
        return chosen.filter { seen.insert($0).inserted }
    }
}
