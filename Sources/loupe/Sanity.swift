import ArgumentParser
import Foundation
import LoupeExplain
import LoupeFormats
import LoupeGraph
import LoupeRender
import LoupeTensor

/// `loupe sanity`: the model-parameter randomisation check of Adebayo et al. (NeurIPS 2018),
/// `SanityCheck` in LoupeExplain; conventions in docs/sanity.md.
struct Sanity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that an explanation method depends on the model's weights (Adebayo et al., \"Sanity Checks for Saliency Maps\", 2018).",
        discussion: """
            Re-draws the weights and biases of the Conv, Gemm and MatMul layers one layer at a \
            time, from the output toward the input in the graph's topological order, each from a \
            normal distribution with the tensor's own standard deviation (seeded by --seed); \
            BatchNormalization statistics are kept. After each step the method's map is \
            recomputed for the class the original model predicts (or --target) and compared with \
            the original map: Spearman rank correlation of the maps and of their absolute values, \
            SSIM and the correlation of HOG features (definitions in docs/sanity.md). Prints a \
            table per step and a verdict: the method FAILS when a similarity is still above 0.5 \
            after every layer is randomised. -o writes a plot of the similarities against the \
            layer reached.

            Examples:
              loupe sanity shapes-gap.onnx circle.png --method saliency --preprocess none
              loupe sanity model.onnx cat.jpg --method grad-cam --json -o plot.png
            """)

    @Argument(help: "The model file (.onnx, .h5 or .keras).")
    var model: String

    @Argument(help: "The image to explain (PNG or JPEG).")
    var image: String

    @Option(help: ArgumentHelp("The method whose maps are checked. " + Method.help(list: false, all: false)))
    var method: String

    @Option(help: "The seed of the random weights (the same seed gives the same weights and the same numbers).")
    var seed: UInt64 = 0

    @Option(parsing: .unconditional, help: "How many occluded images run through the model at once (occlusion).")
    var batch: Int = 16

    @Option(name: .shortAndLong, help: "Write a PNG plot of the similarities against the layer reached. Default: no plot.")
    var output: String?

    @Flag(help: "Overwrite an existing plot.")
    var force = false

    @Flag(help: "Print one JSON document on stdout instead of the table: the target, seed, threshold, per step the layer reached and the four similarities (null when undefined), and the verdict.")
    var json = false

    @OptionGroup var explanation: ExplanationOptions
    @OptionGroup var imageOptions: ImageOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        _ = try Method.parse(method, flag: "--method")
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    }

    func run() throws {
        global.apply()
        try runReportingErrors {
            let chosen = try Method.parse(method, flag: "--method")[0]
            if let output { try checkWritable(output, force: force) }
            let g = try loadModel(model, config: global.config)
            let m: ExplainableModel
            do { m = try ExplainableModel(graph: g) } catch let e as LoupeError { throw e.context(model) }
            let (name, x) = try imageOptions.inputs(for: m.graph, images: [image])[0]
            var options = try explanation.options(target: nil, occlusionBatch: batch, methods: [chosen], graph: m.graph, image: imageOptions)
            if chosen.takesLayer {
                do { options.layer = try m.resolveLayer(options.layer, for: x).node } catch let e as LoupeError {
                    throw LoupeError(e.kind, "--method \(chosen.rawValue) needs a layer: \(e.message)").context(model)
                }
            }
            let (logits, _) = try m.forward(x)
            options.target = try m.resolveTarget(explanation.target, logits: logits, labels: [])
            let progress = Progress(label: "sanity: layers randomised")
            let result: SanityCheck.Result
            do {
                result = try SanityCheck.run(chosen, model: m, input: x, options: options, seed: seed) { progress.update($0, $1) }
            } catch let e as LoupeError { throw e.context(model) }

            if let output {
                try ImageIO.writePNG(try SanityPlot.render(result, title: "\(chosen.title) on \(name), seed \(seed)"), path: output)
            }
            if json {
                try printJSON(Record(result, model: model, image: name, plot: output))
                return
            }
            print("\(chosen.rawValue) on \(name), class \(result.target), seed \(seed): \(result.steps.count) layers randomised from the output")
            let width = max(5, result.steps.map { $0.layer.node.count }.max() ?? 0)
            func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }
            print(pad("step", 5) + pad("layer", width + 2) + pad("op", 8) + Similarity.Scores.names.map { pad($0, 14) }.joined())
            for (i, s) in result.steps.enumerated() {
                print(pad(String(i + 1), 5) + pad(s.layer.node, width + 2) + pad(s.layer.opType, 8)
                      + s.scores.values.map { pad($0.isNaN ? "nan" : String(format: "%.4f", $0), 14) }.joined())
            }
            if result.passes {
                print("verdict: passes (every similarity at most \(SanityCheck.threshold) once every layer is randomised)")
            } else {
                let last = result.steps.last!.scores
                let above = zip(Similarity.Scores.names, last.values).filter { $0.1 > SanityCheck.threshold }
                    .map { String(format: "%@ %.4f", $0.0, $0.1) }.joined(separator: ", ")
                print("verdict: FAILS (\(above) still above \(SanityCheck.threshold) once every layer is randomised)")
            }
            if let last = result.steps.last?.scores, last.spearman.isNaN || last.spearmanAbs.isNaN {
                print("note: the map is constant once every layer is randomised, so the rank correlations are undefined (nan)")
            }
            if let output { print("  -> \(output)") }
        }
    }

    /// `--json`.
    struct Record: Encodable {
        struct Step: Encodable {
            var step: Int, layer: String, op: String
            var spearman: Double?, spearman_abs: Double?, ssim: Double?, hog: Double?

            /// Undefined similarities (a constant map) are written as null, not left out.
            enum CodingKeys: String, CodingKey { case step, layer, op, spearman, spearman_abs, ssim, hog }
            func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(step, forKey: .step)
                try c.encode(layer, forKey: .layer)
                try c.encode(op, forKey: .op)
                for (k, v) in [(CodingKeys.spearman, spearman), (.spearman_abs, spearman_abs), (.ssim, ssim), (.hog, hog)] {
                    if let v { try c.encode(v, forKey: k) } else { try c.encodeNil(forKey: k) }
                }
            }
        }
        var model: String, image: String, method: String, target: Int, seed: UInt64, threshold: Double
        var steps: [Step]
        var passes: Bool
        var failing: [String]
        var plot: String?

        init(_ r: SanityCheck.Result, model: String, image: String, plot: String?) {
            func f(_ v: Double) -> Double? { v.isFinite ? v : nil }
            (self.model, self.image, method, target, seed, threshold) = (model, image, r.method.rawValue, r.target, r.seed, SanityCheck.threshold)
            steps = r.steps.enumerated().map { i, s in
                Step(step: i + 1, layer: s.layer.node, op: s.layer.opType, spearman: f(s.scores.spearman),
                     spearman_abs: f(s.scores.spearmanAbs), ssim: f(s.scores.ssim), hog: f(s.scores.hog))
            }
            (passes, failing, self.plot) = (r.passes, r.failing, plot)
        }
    }
}
