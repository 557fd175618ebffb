import LoupeGraph
import LoupeTensor

/// The whole of `loupe surgery cam` after the images are decoded: find the feature map, run
/// the original model once per image (pooled features and its class scores), fit the new head
/// on the fitting split, build the CAM-ready graph, and measure on the held-out split how often
/// its top-1 agrees with the original's (and, with labels, both accuracies).
public enum CAMRestructure {
    public struct Settings: Sendable {
        /// The feature map to keep (nil: `CAMHead.featureTensor`).
        public var features: String?
        /// Fraction of the images held out for the report (0 holds out none).
        public var holdout: Double = 0.2
        /// Extra fitting examples made from the fitting images (never from held-out ones).
        public var augment = Augment.none
        public var training = HeadTraining.Settings()
        public init() {}
    }

    /// Mirror images added to the fitting set, each distilled from the original model's own
    /// output on it (or given the image's label): `hflip` adds the left-right mirror, `flips`
    /// adds the left-right, up-down and both mirrors (for subjects without an up and down),
    /// `dihedral` adds those and the four transposed versions too (every rotation by quarter
    /// turns and every mirror; square inputs only).
    public enum Augment: String, Sendable, CaseIterable, Codable { case none, hflip, flips, dihedral }

    /// `x` [1, C, H, W] transposed (H and W swapped, for square images), then mirrored along
    /// W (`horizontal`) and/or H (`vertical`).
    static func mirrored(_ x: Tensor, horizontal: Bool, vertical: Bool, transpose: Bool = false) -> Tensor {
        let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        precondition(!transpose || h == w)
        var out = x.floats
        for ch in 0..<c {
            for i in 0..<h {
                let si = vertical ? h - 1 - i : i
                for j in 0..<w {
                    let sj = horizontal ? w - 1 - j : j
                    let (r, q) = transpose ? (sj, si) : (si, sj)
                    out[(ch * h + i) * w + j] = x.floats[(ch * h + r) * w + q]
                }
            }
        }
        return Tensor(shape: x.shape, floats: out, dtype: x.dtype)
    }

    /// What the command prints and writes as JSON.
    public struct Report: Codable, Sendable {
        public var features: String
        public var featureShape: [Int]
        public var classes: Int
        public var targets: String
        public var images: Int
        public var fitImages: Int
        public var heldOutImages: Int
        /// Fitting examples after augmentation.
        public var fitExamples: Int
        public var augment: String
        public var epochs: Int
        public var learningRate: Float
        public var optimizer: String
        public var weightDecay: Float
        public var seed: UInt64
        public var finalLoss: Float
        /// Fraction of held-out images where the new model's top-1 equals the original's.
        public var agreementHeldOut: Double?
        public var agreementFit: Double
        public var accuracyOriginalHeldOut: Double?
        public var accuracyNewHeldOut: Double?
    }

    /// Runs the original model on each input, keeping the feature map: per image the feature
    /// map averaged over h×w ([K]) and the class scores ([classes]).
    public static func extract(_ graph: Graph, features: String, inputs: [Tensor],
                               progress: ((Int, Int) -> Void)? = nil) throws -> (pooled: [[Float]], scores: [[Float]]) {
        let exec = try Executor(graph: graph)
        let logitsName = try CAMHead.scores(graph).logits
        guard let inputName = graph.inputs.first?.name, graph.inputs.count == 1 else {
            throw LoupeError(.invalidArgument, "CAM surgery needs a model with one input; this one has \(graph.inputs.count)")
        }
        var pooled: [[Float]] = [], scores: [[Float]] = []
        for (i, x) in inputs.enumerated() {
            let v = try exec.run([inputName: x], keep: [features, logitsName])
            let a = v[features]!, l = v[logitsName]!
            guard a.rank == 4, a.isFloat, l.isFloat, let c = l.shape.last, c > 0 else {
                throw LoupeError.shape("CAM surgery: feature map '\(features)' has shape \(describe(a.shape)) and scores '\(logitsName)' \(describe(l.shape)); expected [1, K, h, w] and [1, classes]")
            }
            let (k, hw) = (a.shape[1], a.shape[2] * a.shape[3])
            var f = [Float](repeating: 0, count: k)
            for ch in 0..<k {
                var s = 0.0
                for q in 0..<hw { s += Double(a.floats[ch * hw + q]) }
                f[ch] = Float(s / Double(hw))
            }
            pooled.append(f)
            scores.append(Array(l.floats[0..<c]))
            progress?(i + 1, inputs.count)
        }
        return (pooled, scores)
    }

    /// The CAM-ready graph and its report. `labels` (one class index per input), when given,
    /// are the training targets; otherwise the original model's softmax is.
    public static func run(_ graph: Graph, inputs: [Tensor], labels: [Int]? = nil, settings: Settings,
                           extractProgress: ((Int, Int) -> Void)? = nil,
                           trainProgress: ((Int, Int) -> Void)? = nil) throws -> (graph: Graph, report: Report) {
        let features = try settings.features ?? CAMHead.featureTensor(graph)
        let types = try graph.tensorTypes()
        guard let ft = types[features], ft.shape.count == 4 else {
            let shape = types[features].map { describe($0.shape) } ?? "unknown"
            throw LoupeError(.invalidArgument, "CAM needs a spatial feature map [N, K, H, W]; '\(features)' has shape \(shape)")
        }
        guard settings.holdout >= 0, settings.holdout < 1 else {
            throw LoupeError(.invalidArgument, "the held-out fraction must be at least 0 and below 1, got \(settings.holdout)")
        }
        let need = HeadTraining.minimumImages(holdout: settings.holdout)
        guard inputs.count >= need else {
            throw LoupeError(.invalidArgument, "\(inputs.count) image\(inputs.count == 1 ? "" : "s") given; a held-out split of \(settings.holdout) needs at least \(need) (one or more held out, the rest to fit)")
        }
        if let labels, labels.count != inputs.count {
            throw LoupeError(.invalidArgument, "\(labels.count) labels for \(inputs.count) images")
        }
        let (pooled, scores) = try extract(graph, features: features, inputs: inputs, progress: extractProgress)
        let classes = scores[0].count
        if let labels, let bad = labels.first(where: { $0 < 0 || $0 >= classes }) {
            throw LoupeError(.invalidArgument, "label index \(bad) is out of range: the model has \(classes) classes")
        }
        let (fit, held) = HeadTraining.split(inputs.count, holdout: settings.holdout, seed: settings.training.seed)
        func target(_ i: Int, _ teacher: [Float]) -> [Float] {
            guard let labels else { return softmax(teacher) }
            var t = [Float](repeating: 0, count: classes)
            t[labels[i]] = 1
            return t
        }
        var fitFeatures = fit.map { pooled[$0] }
        var targets = fit.map { target($0, scores[$0]) }
        let mirrors: [(Bool, Bool, Bool)]   // horizontal, vertical, transpose
        switch settings.augment {
        case .none: mirrors = []
        case .hflip: mirrors = [(true, false, false)]
        case .flips: mirrors = [(true, false, false), (false, true, false), (true, true, false)]
        case .dihedral:
            guard let x = inputs.first, x.rank == 4, x.shape[2] == x.shape[3] else {
                throw LoupeError(.invalidArgument, "`augment` dihedral needs square images; the model's input is \(describe(inputs.first?.shape ?? []))")
            }
            mirrors = [(true, false, false), (false, true, false), (true, true, false),
                       (false, false, true), (true, false, true), (false, true, true), (true, true, true)]
        }
        if !mirrors.isEmpty {
            let extra = fit.flatMap { i in mirrors.map { Self.mirrored(inputs[i], horizontal: $0.0, vertical: $0.1, transpose: $0.2) } }
            let (p2, s2) = try extract(graph, features: features, inputs: extra, progress: extractProgress)
            for (q, i) in fit.flatMap({ i in mirrors.map { _ in i } }).enumerated() {
                fitFeatures.append(p2[q])
                targets.append(target(i, s2[q]))
            }
        }
        let result = try HeadTraining.fit(features: fitFeatures, targets: targets, settings: settings.training,
                                          progress: trainProgress)
        let g = try CAMHead.build(graph, features: features, weights: result.weights, bias: result.bias)

        let k = pooled[0].count
        func newTop1(_ i: Int) -> Int {
            var best = 0, bestV = -Float.infinity
            for c in 0..<classes {
                var s = Double(result.bias[c])
                for j in 0..<k { s += Double(result.weights[c * k + j]) * Double(pooled[i][j]) }
                if Float(s) > bestV { bestV = Float(s); best = c }
            }
            return best
        }
        func top1(_ v: [Float]) -> Int { v.indices.max { v[$0] < v[$1] || (v[$0] == v[$1] && $0 > $1) }! }
        func agreement(_ idx: [Int]) -> Double? {
            idx.isEmpty ? nil : Double(idx.filter { newTop1($0) == top1(scores[$0]) }.count) / Double(idx.count)
        }
        func accuracy(_ idx: [Int], _ predict: (Int) -> Int) -> Double? {
            guard let labels, !idx.isEmpty else { return nil }
            return Double(idx.filter { predict($0) == labels[$0] }.count) / Double(idx.count)
        }
        let report = Report(
            features: features, featureShape: ft.shape, classes: classes,
            targets: labels == nil ? "distilled from the original model's softmax" : "labels from class folders",
            images: inputs.count, fitImages: fit.count, heldOutImages: held.count,
            fitExamples: fitFeatures.count, augment: settings.augment.rawValue,
            epochs: settings.training.epochs, learningRate: settings.training.learningRate,
            optimizer: settings.training.optimizer.rawValue, weightDecay: settings.training.weightDecay,
            seed: settings.training.seed, finalLoss: result.loss,
            agreementHeldOut: agreement(held), agreementFit: agreement(fit) ?? 0,
            accuracyOriginalHeldOut: accuracy(held) { top1(scores[$0]) },
            accuracyNewHeldOut: accuracy(held, newTop1))
        return (g, report)
    }
}
