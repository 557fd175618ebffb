import ArgumentParser
import Foundation
import LoupeExplain
import LoupeFormats
import LoupeGraph
import LoupeRender
import LoupeTensor

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explain a model's decision on images: \(Method.names(last: "and")).",
        discussion: """
            Each method computes a map on the imported graph with Loupe's own forward and \
            backward passes, and writes a picture (PNG). The target class is --target (an \
            index or a label from --labels; default: the predicted class). The score is the \
            logit (the input of a final Softmax when the graph ends in one) unless --score \
            probability. --save-npy writes the raw map as float32: \
            \(Method.allCases.map { "\($0.rawValue) (\($0.mapKind.description))" }.joined(separator: "; ")). \
            Channels-last (NHWC) models get an NCHW input, so maps and --input-npy tensors are \
            NCHW. With several images, output names are derived from the image names \
            (IMAGE-METHOD.png in the -o folder). --method all runs every method except the slow \
            ones, \(Method.names(Method.slow, last: "and")), which run one forward pass per channel of \
            the layer (2048 on ResNet-50's last block); name them to add them: --method all,score-cam.

            Examples:
              loupe explain resnet18.onnx cat.jpg --method grad-cam -o cat-gradcam.png
              loupe explain model.onnx a.png b.png --method all -o out/ --labels labels.txt
              loupe explain model.onnx cat.jpg --method occlusion --window 32x32 --stride 16x16
              loupe explain model.onnx cat.jpg --method activations --layer /layer1/layer1.0/relu/Relu --channels 0,5,9
              loupe explain model.onnx cat.jpg --method integrated-gradients --steps 50 --baseline blur --json
              loupe explain model.onnx cat.jpg --method guided-backprop --noise-tunnel smoothgrad --noise-samples 50 --noise-std 0.3
            """)

    @Argument(help: "The model file (.onnx, .h5 or .keras).")
    var model: String

    @Argument(help: "Images to explain (PNG or JPEG).")
    var images: [String] = []

    @Option(help: ArgumentHelp("A method, or several separated by commas, among \(Method.allCases.map(\.rawValue).joined(separator: ", ")); or all (every method except the slow \(Method.names(Method.slow, last: "and")))."))
    var method: String = "grad-cam"

    @Option(help: "A text file with one class label per line.")
    var labels: String?

    @Option(parsing: .unconditional, help: "How many occluded (occlusion), masked (score-cam) or ablated (ablation-cam) copies of the image run through the model at once.")
    var batch: Int = 16

    @Option(help: "Channels to show for activations, as a comma-separated list (default: the 8 most active).")
    var channels: String?

    @Option(parsing: .unconditional, help: "Activation maps: show each channel where it reaches this quantile of its values.")
    var quantile: Double = 0.99

    @Option(help: "Colormap for heat maps: jet, viridis, inferno or gray.")
    var colormap: String = "jet"

    @Option(parsing: .unconditional, help: "Opacity of heat maps over the image, from 0 to 1.")
    var alpha: Float = 0.5

    @Option(name: .shortAndLong, help: "Output PNG (one image), or folder (several images, or several methods with several images). Default: IMAGE-METHOD.png in the current folder.")
    var output: String?

    @Option(name: .customLong("save-npy"), help: "Also write the raw map as float32 .npy (a folder when there are several images or methods).")
    var saveNpy: String?

    @Flag(help: "Overwrite existing output files.")
    var force = false

    @Flag(help: "Print one JSON document on stdout instead of the text lines: per image and method, the target, layer, picture and .npy paths, the noise tunnel used and, for integrated-gradients, the completeness (sum of attributions minus the score difference).")
    var json = false

    @OptionGroup var explanation: ExplanationOptions
    @OptionGroup var image: ImageOptions
    @OptionGroup var global: GlobalOptions

    var methods: [Method] { (try? Method.parse(method, flag: "--method", list: true, all: true, slowInAll: false)) ?? [] }

    func validate() throws {
        _ = try Method.parse(method, flag: "--method", list: true, all: true, slowInAll: false)
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        guard (0...1).contains(alpha) else { throw ValidationError("--alpha must be between 0 and 1") }
        guard quantile > 0, quantile < 1 else { throw ValidationError("--quantile must be between 0 and 1") }
        guard ["jet", "viridis", "inferno", "gray"].contains(colormap) else {
            throw ValidationError("--colormap must be jet, viridis, inferno or gray")
        }
        if let channels { _ = try parseChannels(channels) }
        if images.isEmpty && image.inputNpy == nil { throw ValidationError("give at least one image, or --input-npy FILE") }
    }

    func parseChannels(_ s: String) throws -> [Int] {
        let v = s.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !v.isEmpty, v.allSatisfy({ $0 != nil && $0! >= 0 }) else {
            throw ValidationError("--channels expects non-negative integers separated by commas, got '\(s)'")
        }
        return v.map { $0! }
    }

    func run() throws {
        global.apply()
        try runReportingErrors {
            let g = try loadModel(model, config: global.config)
            let m: ExplainableModel
            do { m = try ExplainableModel(graph: g) } catch let e as LoupeError { throw e.context(model) }
            let labelList = try labels.map(LabelFile.read) ?? []
            // The explainable graph's input: NCHW even for a channels-last model.
            let inputs = try image.inputs(for: m.graph, images: images)
            var style = ExplanationPicture.Style()
            style.colormap = try Colormap.named(colormap)
            style.alpha = alpha
            var options = try explanation.options(target: nil, occlusionBatch: batch, methods: methods, graph: m.graph, image: image)
            var records: [ExplainRecord] = []
            func say(_ line: String) { if !json { print(line) } }
            let several = inputs.count > 1
            let progress = Progress(label: "explain")

            // Every output path is checked before any work, so a bad one leaves nothing half written.
            let outMethod = methods.count > 1 ? "all" : methods[0].rawValue
            for (name, _) in inputs {
                if let saveNpy {
                    for method in methods {
                        try checkWritable(try outputPath(saveNpy, image: name, method: method, ext: "npy", several: several || methods.count > 1), force: force)
                    }
                }
                try checkWritable(try outputPath(output, image: name, method: outMethod, ext: "png", several: several), force: force)
            }

            // The prediction by the inference plan, fused as the gradient plans are: their
            // convolutions are the same operators, with one set of prepared weights.
            for (i, (name, x)) in inputs.enumerated() {
                let (logits, _) = try m.forward(x)
                let t = try m.resolveTarget(explanation.target, logits: logits, labels: labelList)
                options.target = t
                let display = try displayImage(x)
                var pictures: [(String, RGBImage)] = []
                for method in methods {
                    let e: Explanation
                    var npyPath: String?
                    let stepProgress = Progress(label: "  \(method.rawValue)\(options.noiseTunnel != nil && method.takesNoiseTunnel ? " samples" : method == .integratedGradients ? " steps" : "")")
                    options.progress = { stepProgress.update($0, $1) }
                    do { e = try method.run(on: m, input: x, options: options) } catch let err as LoupeError where method == .cam && methods.count > 1 {
                        FileHandle.standardError.write(Data("loupe: note: cam skipped: \(FlagNames.map(err).message)\n".utf8))
                        continue
                    }
                    if let saveNpy {
                        let path = try outputPath(saveNpy, image: name, method: method, ext: "npy", several: several || methods.count > 1)
                        try checkWritable(path, force: force)
                        try NPY.write(e.map, path: path)
                        npyPath = path
                    }
                    if method.mapKind == .featureMaps {
                        let chosen = try channels.map(parseChannels) ?? mostActive(e.map, count: methods.count > 1 ? 1 : 8)
                        for (ch, tile) in try ExplanationPicture.activationTiles(e, over: display, channels: chosen, quantile: quantile, style: style) {
                            pictures.append(("channel \(ch)", tile))
                        }
                        if methods.count == 1 {
                            // The grid of all channels goes beside the panel, as IMAGE-activations-channels.png.
                            let base = try outputPath(output, image: name, method: "activations", ext: "png", several: several)
                            let gridPath = (base as NSString).deletingPathExtension + "-channels.png"
                            try checkWritable(gridPath, force: force)
                            try ImageIO.writePNG(try ExplanationPicture.channelGrid(e.map), path: gridPath)
                            say("  -> \(gridPath) (all \(e.map.shape[0]) channels)")
                        }
                    } else {
                        pictures.append((e.noiseTunnel.map { "\($0.kind.rawValue) \(method.rawValue)" } ?? method.rawValue, try ExplanationPicture.render(e, over: display, style: style)))
                    }
                    let where_ = e.layer.map { " at \($0)" } ?? ""
                    let label = t < labelList.count ? " (\(labelList[t]))" : ""
                    let tunnel = e.noiseTunnel.map { String(format: " with %@ (%d samples, std %g, seed %llu)", $0.kind.rawValue, $0.samples, $0.std ?? 0, $0.seed) } ?? ""
                    say("\(name): \(method.rawValue) for class \(t)\(label)\(where_)\(tunnel)")
                    if let c = e.completeness {
                        say(String(format: "  completeness: sum of attributions %.6g, score(input) - score(baseline) %.6g - %.6g = %.6g, error %.3g (%.3g %% of the difference)",
                                   c.attributionSum, c.scoreInput, c.scoreBaseline, c.scoreDifference, c.error, c.relativeError * 100))
                    }
                    records.append(ExplainRecord(image: name, method: method.rawValue, target: t, label: t < labelList.count ? labelList[t] : nil,
                                                 layer: e.layer, noise_tunnel: e.noiseTunnel.map(ExplainRecord.Tunnel.init),
                                                 completeness: e.completeness, npy: npyPath))
                }
                let picture = try compose(pictures, display: display, logits: logits, target: t, labels: labelList)
                let path = try outputPath(output, image: name, method: outMethod, ext: "png", several: several)
                try checkWritable(path, force: force)
                try ImageIO.writePNG(picture, path: path)
                say("  -> \(path)")
                for k in records.indices where records[k].image == name && records[k].picture == nil { records[k].picture = path }
                progress.update(i + 1, inputs.count)
            }
            if json { try printJSON(records) }
        }
    }

    /// One line of `--json`.
    struct ExplainRecord: Encodable {
        struct Tunnel: Encodable {
            var kind: String, samples: Int, std: Double, seed: UInt64
            init(_ s: NoiseTunnel.Settings) { (kind, samples, std, seed) = (s.kind.rawValue, s.samples, s.std ?? 0, s.seed) }
        }
        var image: String
        var method: String
        var target: Int
        var label: String?
        var layer: String?
        var noise_tunnel: Tunnel?
        var completeness: Completeness?
        var picture: String?
        var npy: String?
    }

    /// Channels with the largest mean activation, most active first.
    func mostActive(_ map: Tensor, count: Int) -> [Int] {
        let (c, plane) = (map.shape[0], map.shape[1] * map.shape[2])
        let means = (0..<c).map { ch in map.floats[(ch * plane)..<((ch + 1) * plane)].reduce(0, +) / Float(plane) }
        return Array((0..<c).sorted { means[$0] > means[$1] }.prefix(count))
    }

    /// The preprocessed input shown as a picture: each channel min–max scaled (so it works for
    /// any normalisation), RGB order.
    func displayImage(_ x: Tensor) throws -> RGBImage {
        let bgr = (image.channelOrder ?? "rgb") == "bgr" || (image.channelOrder == nil && image.preprocess == "caffe")
        return try InputPicture.render(x, bgr: bgr)
    }

    /// A single picture, or a titled panel when there are several, with the top predictions.
    func compose(_ pictures: [(String, RGBImage)], display: RGBImage, logits: [Float], target: Int, labels: [String]) throws -> RGBImage {
        if pictures.count == 1 { return pictures[0].1 }
        // Small inputs are enlarged (nearest neighbour) so that the panel stays readable.
        let factor = max(1, (192 + display.width - 1) / max(display.width, 1))
        func enlarge(_ img: RGBImage) throws -> RGBImage {
            factor == 1 ? img : try Resample.resize(img, width: img.width * factor, height: img.height * factor, mode: .nearest)
        }
        let probs = softmax(logits)
        let top = probs.indices.sorted { probs[$0] > probs[$1] }.prefix(5).map { i in
            String(format: "%5.1f%%  %d %@", probs[i] * 100, i, i < labels.count ? labels[i] : "")
        }
        let caption = ["target: \(target)\(target < labels.count ? " " + labels[target] : "")"] + top
        let tiles = try ([("input", display)] + pictures).map { Panel.Tile($0.0, try enlarge($0.1)) }
        let columns = min(tiles.count, 5)
        return try Panel.compose(tiles, columns: columns, caption: caption,
                                 legends: [Panel.Legend(try Colormap.named(colormap), title: "heat maps: low to high")])
    }

    /// `-o` resolved for one image and method.
    func outputPath(_ given: String?, image: String, method: String, ext: String, several: Bool) throws -> String {
        let stem = ((image as NSString).lastPathComponent as NSString).deletingPathExtension
        let file = "\(stem)-\(method).\(ext)"
        guard let given else { return file }
        var isDir: ObjCBool = false
        if several || given.hasSuffix("/") || (FileManager.default.fileExists(atPath: given, isDirectory: &isDir) && isDir.boolValue) {
            try FileManager.default.createDirectory(atPath: given, withIntermediateDirectories: true)
            return (given as NSString).appendingPathComponent(file)
        }
        return given
    }

    func outputPath(_ given: String, image: String, method: Method, ext: String, several: Bool) throws -> String {
        try outputPath(given, image: image, method: method.rawValue, ext: ext, several: several)
    }
}
