import ArgumentParser
import Foundation
import LoupeExplain
import LoupeFormats
import LoupeGraph
import LoupeRender
import LoupeTensor

struct Visualize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make an image that maximises a class score, a channel or one unit, by gradient ascent on the input.",
        discussion: """
            The defaults follow Lucent's render_vis: the image is parameterised by its Fourier \
            spectrum with 1/f scaling and decorrelated colour, squashed by a sigmoid into the \
            model's input range, randomly padded, shifted, scaled and rotated every step, and \
            optimised by Adam. --naive is the textbook method of Simonyan et al. 2014 for \
            comparison: plain gradient steps on the model's input values from the zero input \
            (the preprocessing mean), L2 decay only, no transforms, no clipping. The class score is the logit before any final softmax. \
            Several --class or --channel values make one labelled grid. The PNG shows the image \
            over the model's input range, enlarged (nearest neighbour) when small. docs/visualize.md \
            gives the source of every default.

            Examples:
              loupe visualize shapes-gap.onnx --preprocess none --class 2 -o circle.png
              loupe visualize resnet18.onnx --class 0 --class 1 -o classes.png --labels labels.txt
              loupe visualize resnet18.onnx --channel /layer3/layer3.1/relu_1/Relu:7 -o unit.png
              loupe visualize model.onnx --neuron /3/Conv:5:8:8 -o neuron.png --every 32 --frames frames/
            """)

    @Argument(help: "The model file (.onnx, .h5 or .keras).")
    var model: String

    @Option(name: .customLong("class"), help: "A class to visualise: an index, or a label from --labels. Repeat for a grid.")
    var classes: [String] = []

    @Option(name: .customLong("channel"), help: "A channel to visualise as LAYER:K (the mean of channel K of the layer's output; layer names as `loupe inspect` lists them). Repeat for a grid.")
    var channels: [String] = []

    @Option(name: .customLong("neuron"), help: "One unit to visualise as LAYER:K:Y:X (channel K at row Y, column X of the layer's output). Repeat for a grid.")
    var neurons: [String] = []

    @Option(name: .shortAndLong, help: "The output PNG.")
    var output: String

    @Option(parsing: .unconditional, help: "Optimisation steps (Lucent's default: 512).")
    var steps: Int = 512

    @Option(parsing: .unconditional, help: "The step size: Adam's learning rate (Lucent's default: 0.05), or with --naive the plain gradient step η (default: 0.05).")
    var lr: Float?

    @Option(help: "Seed of the start image and of every step's random transformation.")
    var seed: UInt64 = 0

    @Option(help: "Size of the optimised image as HxW (default: the model's input size, or 224x224 when it is dynamic). Resized to the model's input size before the model when they differ.")
    var size: String?

    @Option(help: "Start image: gray (Lucent's nearly uniform gray), random (uniform noise from the seed), zero (the model's zero input: the preprocessing mean, black without one), or the path of a PNG or JPEG (default: gray, or zero with --naive).")
    var start: String?

    @Flag(help: "The textbook method of Simonyan et al. 2014: plain gradient steps x ← x + η(∇S − 2λx) on the model's input values from the zero input, no transformations, no clipping (η 0.05 and λ 0.1 unless --lr or --l2 is given).")
    var naive = false

    @Option(parsing: .unconditional, help: "Weight of the L2 penalty: Σ(u − 0.5)² on the unit image (default 0), or with --naive λ of λ‖x‖² on the model's input values (default 0.1).")
    var l2: Float = 0

    @Option(parsing: .unconditional, help: "Weight of the total-variation penalty on the unit image (default 0).")
    var tv: Float = 0

    @Option(parsing: .unconditional, help: "Weight of Lucent's blur_input_each_step penalty (default 0).")
    var blur: Float = 0

    @Option(name: .customLong("save-npy"), help: "Also write the final unit image(s) as float32 .npy: [C, H, W] for one objective, [N, C, H, W] for several.")
    var saveNpy: String?

    @Option(parsing: .unconditional, help: "Write a frame every N steps (with --frames).")
    var every: Int?

    @Option(help: "Folder for the frames (PNG, one per --every steps and objective).")
    var frames: String?

    @Flag(help: "Print the results as JSON: for each objective the final objective, the model's probability for the class (or its top class) on the final image, and the steps.")
    var json = false

    @Option(help: "A text file with one class label per line.")
    var labels: String?

    @Flag(help: "Overwrite existing output files.")
    var force = false

    @OptionGroup var image: ImageOptions
    @OptionGroup var global: GlobalOptions

    enum Spec { case classScore(String), channel(String, Int), neuron(String, Int, Int, Int) }

    /// LAYER:K or LAYER:K:Y:X, split from the right so that layer names may hold colons.
    static func parseUnit(_ s: String, flag: String, numbers: Int) throws -> (String, [Int]) {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let form = numbers == 1 ? "LAYER:K" : "LAYER:K:Y:X"
        guard parts.count > numbers else { throw ValidationError("\(flag) expects \(form), got '\(s)'") }
        let nums = parts.suffix(numbers).map { Int($0) }
        let layer = parts.dropLast(numbers).joined(separator: ":")
        guard !layer.isEmpty, nums.allSatisfy({ $0 != nil && $0! >= 0 }) else {
            throw ValidationError("\(flag) expects \(form) with non-negative integers, got '\(s)'")
        }
        return (layer, nums.map { $0! })
    }

    func specs() throws -> [Spec] {
        try classes.map { .classScore($0) }
            + channels.map { let (l, n) = try Self.parseUnit($0, flag: "--channel", numbers: 1); return .channel(l, n[0]) }
            + neurons.map { let (l, n) = try Self.parseUnit($0, flag: "--neuron", numbers: 3); return .neuron(l, n[0], n[1], n[2]) }
    }

    func validate() throws {
        guard !(classes.isEmpty && channels.isEmpty && neurons.isEmpty) else {
            throw ValidationError("give what to visualise: --class C, --channel LAYER:K or --neuron LAYER:K:Y:X")
        }
        _ = try specs()
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1, got \(steps)") }
        if let lr, !(lr > 0 && lr.isFinite) { throw ValidationError("--lr must be a positive number, got \(lr)") }
        for (flag, v) in [("--l2", l2), ("--tv", tv), ("--blur", blur)] where !(v >= 0 && v.isFinite) {
            throw ValidationError("\(flag) must be a non-negative number, got \(v)")
        }
        if let size { _ = try parseHxW(size, "--size") }
        if naive && (tv != 0 || blur != 0) {
            throw ValidationError("--naive is the textbook method with L2 decay only; --tv and --blur apply to the default method")
        }
        if let start, !["gray", "random", "zero"].contains(start), !FileManager.default.fileExists(atPath: start) {
            throw ValidationError("--start must be gray, random, zero or an image file; '\(start)' is none of these")
        }
        if let every, every < 1 { throw ValidationError("--every must be at least 1, got \(every)") }
        if (every == nil) != (frames == nil) { throw ValidationError("--every N and --frames DIR go together") }
        guard output.lowercased().hasSuffix(".png") else { throw ValidationError("-o must name a .png file, got '\(output)'") }
    }

    func run() throws {
        global.apply()
        try runReportingErrors {
            let g = try loadModel(model, config: global.config)
            let m: ExplainableModel
            do { m = try ExplainableModel(graph: g) } catch let e as LoupeError { throw e.context(model) }
            let geo: (channels: Int, height: Int?, width: Int?)
            do { geo = try FeatureVisualization.inputGeometry(m) } catch let e as LoupeError { throw e.context(model) }
            let labelList = try labels.map(LabelFile.read) ?? []
            try checkWritable(output, force: force)
            if let saveNpy { try checkWritable(saveNpy, force: force) }

            var settings = FeatureVisualization.Settings()
            settings.steps = steps
            settings.learningRate = lr
            settings.seed = seed
            settings.naive = naive
            settings.penalties = Penalties(l2: l2, totalVariation: tv, blur: blur)
            if let size { (settings.height, settings.width) = try parseHxW(size, "--size") }
            let (h, w) = (settings.height ?? geo.height ?? 224, settings.width ?? geo.width ?? 224)
            let values = try Self.inputValues(image, for: m.graph.inputs[0], channels: geo.channels)
            switch start {
            case nil: settings.start = nil
            case "gray": settings.start = .gray
            case "random": settings.start = .random
            case "zero": settings.start = .zero
            case let path?: settings.start = .image(try startImage(path, channels: geo.channels, height: h, width: w))
            }
            if let frames { try FileManager.default.createDirectory(atPath: frames, withIntermediateDirectories: true) }

            let objectives = try specs().map { spec -> VisualizationObjective in
                switch spec {
                case .classScore(let c):
                    let k = try classCount(m, channels: geo.channels, height: geo.height ?? 224, width: geo.width ?? 224)
                    return .classScore(try m.resolveTarget(c, logits: [Float](repeating: 0, count: k), labels: labelList))
                case .channel(let l, let k): return .channel(layer: l, channel: k)
                case .neuron(let l, let k, let y, let x): return .neuron(layer: l, channel: k, y: y, x: x)
                }
            }
            var results: [FeatureVisualization.Result] = []
            var report: [JSONResult] = []
            for (i, objective) in objectives.enumerated() {
                let name = title(objective, labels: labelList)
                let report10 = max(1, steps / 10)
                let r = try FeatureVisualization.run(m, objective: objective, input: values, settings: settings) { step, value, image in
                    if step % report10 == 0 || step == steps {
                        FileHandle.standardError.write(Data("visualize \(name): step \(step)/\(steps), objective \(String(format: "%.4g", value))\n".utf8))
                    }
                    if let every, let frames, step % every == 0 {
                        let stem = objectives.count > 1 ? "\(i)-" : ""
                        let path = (frames as NSString).appendingPathComponent(String(format: "%@step-%05d.png", stem, step))
                        try? ImageIO.writePNG(try! RGBImage.picture(unitImage: image()), path: path)
                    }
                }
                results.append(r)
                var warning: String?
                if r.zeroGradientAtStart {
                    warning = "the input gradient was exactly zero on the start image (no active path from the input to the objective)"
                        + (naive && (start == nil || start == "zero") ? ", so the textbook method, which has no redirected ReLU, left the zero start image where it was; try --start random" : "")
                    note("warning: \(name): \(warning!)")
                }
                let probs = softmax(r.logits)
                let top = probs.indices.max { probs[$0] < probs[$1] } ?? 0
                var entry = JSONResult(objective: objective.title, title: name, final_objective: r.objective, steps: r.steps,
                                       top_class: top, top_probability: probs[top], layer: r.layer, warning: warning)
                if case .classScore(let c) = objective {
                    entry.class = c
                    entry.probability = probs[c]
                }
                report.append(entry)
                if !json {
                    let p: String
                    if case .classScore(let c) = objective { p = String(format: "probability %.4f", probs[c]) } else { p = String(format: "top class %d (%.4f)", top, probs[top]) }
                    print("\(name): objective \(String(format: "%.4g", r.objective)) after \(r.steps) steps; \(p)")
                }
            }

            let out: RGBImage
            if results.count == 1 {
                out = try RGBImage.picture(unitImage: results[0].image)
            } else {
                let tiles = try zip(objectives, results).map { Panel.Tile(title($0.0, labels: labelList), try RGBImage.picture(unitImage: $0.1.image)) }
                out = try Panel.compose(tiles, columns: min(tiles.count, 6),
                                        caption: [naive ? "textbook gradient ascent (Simonyan et al. 2014), \(steps) steps" : "Fourier + decorrelated colour + transforms, \(steps) steps"])
            }
            try ImageIO.writePNG(out, path: output)
            if let saveNpy {
                let t = results.count == 1 ? results[0].image
                    : Tensor(shape: [results.count] + results[0].image.shape, floats: results.flatMap { $0.image.floats })
                try NPY.write(t, path: saveNpy)
            }
            if json {
                try printJSON(JSONReport(output: output, naive: naive, seed: seed, results: report))
            } else {
                print("  -> \(output)")
            }
        }
    }

    struct JSONResult: Encodable {
        var objective: String, title: String
        var final_objective: Float, steps: Int
        var top_class: Int, top_probability: Float
        var layer: String?
        var warning: String?
        var `class`: Int?
        var probability: Float?
    }

    struct JSONReport: Encodable {
        var output: String, naive: Bool, seed: UInt64
        var results: [JSONResult]
    }

    func title(_ o: VisualizationObjective, labels: [String]) -> String {
        if case .classScore(let c) = o, c < labels.count { return labels[c] }
        return o.title
    }

    func classCount(_ m: ExplainableModel, channels: Int, height: Int, width: Int) throws -> Int {
        let plan = try m.executor.plan(for: [m.inputName: TensorType(.float32, [1, channels, height, width])])
        return plan.types[m.logitsName]?.shape.last ?? 0
    }

    /// The preprocessing flags as the unit image's map to model values (`loupe report`'s too).
    static func inputValues(_ image: ImageOptions, for input: ValueInfo, channels: Int) throws -> InputValues {
        let (p, _, _) = try image.resolve(for: input)
        return InputValues(fitting: channels, maximum: p.scale == .byte ? 255 : 1, mean: p.mean, std: p.std, bgr: p.channelOrder == .bgr)
    }

    /// --start IMAGE as a unit image [C, H, W] (RGB or luma), resized to the image size.
    func startImage(_ start: String, channels: Int, height: Int, width: Int) throws -> [Float] {
        guard channels == 1 || channels == 3 else {
            throw LoupeError(.invalidArgument, "--start \(start): an image start needs a model with 1 or 3 input channels; this one has \(channels)")
        }
        let img = try image.readImage(start)
        return try Preprocessing(grayscale: channels == 1).tensor(from: img, height: height, width: width).floats
    }

    /// The unit image as the PNG shows it (`loupe report`'s too).
    static func picture(_ u: Tensor) throws -> RGBImage { try RGBImage.picture(unitImage: u) }
}
