import ArgumentParser
import Foundation
import LoupeExplain
import LoupeFormats
import LoupeGraph
import LoupeRender
import LoupeTensor

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write one self-contained HTML report: the model's summary and first-layer filters, and per image the top predictions and every explanation method side by side.",
        discussion: """
            The page needs nothing else to open: every picture is embedded, the styling is \
            inline, there is no script and nothing is fetched from the network. It holds the \
            model summary (inputs, outputs, parameters, MACs, the layer table), the first \
            convolution's filters, and per image the input after preprocessing, the top 5 \
            classes, and the chosen methods (default: the classic eight, from saliency to activations, plus integrated-gradients and grad-cam++; `all` adds the other CAM variants and gradient methods, except the per-channel score-cam and ablation-cam, which `all,score-cam,ablation-cam` adds) with a colour legend and one line \
            on what each shows. CAM needs a model ending in global average pooling and one \
            linear layer; for other models the report says why and points to \
            `loupe surgery cam`. Each map gets a sanity check (Adebayo et al. 2018): the \
            method is run once more on a copy of the model with every Conv and linear layer \
            re-drawn, and a warning badge marks a method whose map still has a Spearman rank \
            correlation of absolute values above 0.5 with the original (--no-sanity leaves it \
            out). The settings (method parameters, layer, target, Loupe \
            version, the model file's SHA-256) close the page.

            Examples:
              loupe report model.onnx cat.jpg dog.png --labels labels.txt -o report.html
              loupe report model.onnx images/*.png --methods grad-cam,occlusion --preprocess none -o r.html --force
            """)

    @Argument(help: "The model file (.onnx, .h5 or .keras).")
    var model: String

    @Argument(help: "Images to explain (PNG or JPEG).")
    var images: [String] = []

    @Option(name: .shortAndLong, help: "Where to write the HTML report.")
    var output: String

    @Option(help: "A text file with one class label per line.")
    var labels: String?

    /// The default: the classic set (the CAM variants are chosen by name, or with `all`).
    /// The classic eight (saliency to activations) plus integrated gradients and Grad-CAM++.
    static let defaultMethods: [Method] = [.saliency, .deconvnet, .guidedBackprop, .cam, .gradCAM, .guidedGradCAM, .occlusion, .activations,
                                           .integratedGradients, .gradCAMPlusPlus]

    @Option(help: ArgumentHelp(Method.help(list: true, all: true)))
    var methods: String = Report.defaultMethods.map(\.rawValue).joined(separator: ",")

    @Option(name: .customLong("visualize-steps"), parsing: .unconditional, help: "Steps of the picture of each predicted class by gradient ascent (`loupe visualize --class C` with its defaults, seed 0); 0 leaves it out.")
    var visualizeSteps: Int = 512

    @Option(help: "Colormap for heat maps: jet, viridis, inferno or gray.")
    var colormap: String = "jet"

    @Flag(help: "Overwrite the report if it exists.")
    var force = false

    @Option(name: .customLong("auc-step"), parsing: .unconditional, help: "Deletion and insertion AUC beside each map (RISE; see `loupe evaluate`): pixels changed per step. Each map costs 2 x (pixels / step + 1) forward passes.")
    var aucStep: Int = 224

    @Flag(name: .customLong("no-auc"), help: "Leave out the deletion and insertion AUC beside each map.")
    var noAUC = false

    @Flag(name: .customLong("no-sanity"), help: "Leave out the sanity check beside each map. By default each method is run once more per image on a copy of the model whose Conv, Gemm and MatMul layers are all re-drawn (as the last step of `loupe sanity`), and a method whose map still has a Spearman rank correlation of absolute values above 0.5 with the original gets a warning badge.")
    var noSanity = false

    @Option(name: .customLong("sanity-seed"), help: "The seed of the random weights of the sanity check (`loupe sanity --seed`).")
    var sanitySeed: UInt64 = 0

    @OptionGroup var explanation: ExplanationOptions
    @OptionGroup var image: ImageOptions
    @OptionGroup var global: GlobalOptions

    var chosenMethods: [Method] { (try? Method.parse(methods, flag: "--methods", list: true, all: true, slowInAll: false)) ?? [] }

    func validate() throws {
        _ = try Method.parse(methods, flag: "--methods", list: true, all: true, slowInAll: false)
        guard ["jet", "viridis", "inferno", "gray"].contains(colormap) else {
            throw ValidationError("--colormap must be jet, viridis, inferno or gray")
        }
        if images.isEmpty && image.inputNpy == nil { throw ValidationError("give at least one image, or --input-npy FILE") }
        guard visualizeSteps >= 0 else { throw ValidationError("--visualize-steps must be 0 (no visualisation) or more, got \(visualizeSteps)") }
        guard aucStep >= 1 else { throw ValidationError("--auc-step must be at least 1 pixel, got \(aucStep)") }
    }

    func run() throws {
        global.apply()
        try runReportingErrors {
            // Refuse early, before minutes of work.
            try checkWritable(output, force: force)
            let folder = (output as NSString).deletingLastPathComponent
            var isDir: ObjCBool = false
            if !folder.isEmpty, !(FileManager.default.fileExists(atPath: folder, isDirectory: &isDir) && isDir.boolValue) {
                throw LoupeError(.io, "\(output): the folder '\(folder)' does not exist")
            }
            let started = Date()
            let progress = ReportProgress()
            progress.say("reading \(model)")
            let g = try loadModel(model, config: global.config)
            let labelList = try labels.map(LabelFile.read) ?? []
            let m: ExplainableModel
            do { m = try ExplainableModel(graph: g) } catch let e as LoupeError { throw e.context(model) }
            // The explainable graph's input: NCHW even for a channels-last model.
            let inputs = try image.inputs(for: m.graph, images: images)

            var doc = ReportDocument(title: "Loupe report: \((model as NSString).lastPathComponent)",
                                     model: try modelFacts(g, fed: inputs.first?.tensor.shape), generator: "Loupe \(LoupeVersion.string)")
            (doc.filters, doc.filtersNote) = firstLayerFilters(g)

            let style = try pictureStyle()
            let bgr = try inputIsBGR(m.graph)
            // The layer for the layer methods, resolved once so that a wrong name fails now.
            var chosenLayer: (node: String, tensor: String)?
            if let first = inputs.first, chosenMethods.contains(where: \.takesLayer) {
                do { chosenLayer = try m.resolveLayer(explanation.layer, for: first.tensor) } catch let e as LoupeError { throw e.context(model) }
            }
            var options = try explanation.options(target: nil, layer: chosenLayer?.node, methods: chosenMethods, graph: m.graph, image: image)
            // One randomised copy of the model for the sanity check of every method and image.
            var sanity: SanityCheck.FullRandomization?
            var sanityNote: String?
            if !noSanity {
                do { sanity = try SanityCheck.FullRandomization(model: m, seed: sanitySeed) } catch let e as LoupeError { sanityNote = e.message }
            }

            // One picture per predicted class, made once however many images predict it.
            var visualizations: [Int: ReportDocument.Figure] = [:]
            for (i, (name, x)) in inputs.enumerated() {
                let (logits, _) = try m.forward(x)
                let t = try m.resolveTarget(explanation.target, logits: logits, labels: labelList)
                options.target = t
                let display = try InputPicture.render(x, bgr: bgr)
                let probs = softmax(logits)
                let order = probs.indices.sorted { probs[$0] > probs[$1] || (probs[$0] == probs[$1] && $0 < $1) }
                let preds = order.prefix(5).map {
                    ReportDocument.Prediction(index: $0, label: $0 < labelList.count ? labelList[$0] : nil,
                                              probability: Double(probs[$0]), logit: Double(logits[$0]))
                }
                var section = ReportDocument.ImageSection(path: name, input: display, predictions: preds, target: t,
                                                          targetLabel: t < labelList.count ? labelList[t] : nil)
                for method in chosenMethods {
                    progress.say("image \(i + 1)/\(inputs.count) \((name as NSString).lastPathComponent): \(method.rawValue)")
                    let clock = Date()
                    var result = ReportDocument.MethodResult(title: method.title, summary: method.summary, picture: nil)
                    let e: Explanation
                    do { e = try method.run(on: m, input: x, options: options) } catch let err as LoupeError where method == .cam {
                        result.note = "Not available for this model. \(FlagNames.map(err).message)."
                        section.methods.append(result)
                        continue
                    }
                    if method.mapKind == .featureMaps {
                        let ch = ExplanationPicture.topChannel(e.map)
                        result.picture = try ExplanationPicture.activationTiles(e, over: display, channels: [ch], style: style)[0].1
                        result.detail = "Channel \(ch) of \(e.map.shape[0]) (the most active) at \(e.layer ?? "?")."
                        section.extras.append(ReportDocument.Figure(
                            title: "All \(e.map.shape[0]) channels at \(e.layer ?? "?")", image: try ExplanationPicture.channelGrid(e.map),
                            caption: "Each channel min–max scaled on its own (viridis: dark low, yellow high), in channel order, row by row."))
                    } else {
                        result.picture = try ExplanationPicture.render(e, over: display, style: style)
                        if let l = e.layer { result.detail = "At \(l)." }
                        result.title = e.title
                        if let c = e.completeness {
                            result.detail = String(format: "Completeness: the attributions sum to %.4g; the score difference is %.4g (error %.2g %%).",
                                                   c.attributionSum, c.scoreDifference, c.relativeError * 100)
                        }
                        if !noAUC {
                            let map = try AttributionMap(e, height: x.shape[2], width: x.shape[3])
                            let score = ClassProbability(model: m, target: t)
                            let del = try DeletionInsertion.curve(.deletion, score: score, input: x, map: map, step: aucStep)
                            let ins = try DeletionInsertion.curve(.insertion, score: score, input: x, map: map, step: aucStep)
                            result.detail += (result.detail.isEmpty ? "" : " ") + String(format: "Deletion AUC %.3f, insertion AUC %.3f.", del.auc, ins.auc)
                        }
                    }
                    result.legend = ExplanationPicture.legend(e.kind, style: style)
                    if !noSanity {
                        progress.say("image \(i + 1)/\(inputs.count) \((name as NSString).lastPathComponent): \(method.rawValue) on the randomised model")
                        result.sanity = sanityResult(e, sanity, note: sanityNote, input: x, options: options)
                    }
                    result.seconds = Date().timeIntervalSince(clock)
                    section.methods.append(result)
                }
                if visualizeSteps > 0 {
                    let c = preds[0].index
                    if visualizations[c] == nil {
                        progress.say("image \(i + 1)/\(inputs.count) \((name as NSString).lastPathComponent): visualising class \(c)")
                        visualizations[c] = try classVisualization(m, class: c, labels: labelList)
                    }
                    section.extras.append(visualizations[c]!)
                }
                let top = preds[0]
                print(String(format: "%@: class %d%@ %.1f%%; %d method%@", name, top.index, top.label.map { " (\($0))" } ?? "",
                             top.probability * 100, section.methods.count, section.methods.count == 1 ? "" : "s"))
                doc.images.append(section)
            }
            progress.say("writing \(output)")
            doc.settings = settings(chosenLayer: chosenLayer, occ: options.occlusion, sha256: doc.model.sha256, g: m.graph)
            let html = try ReportHTML.render(doc, encodePNG: ImageIO.pngData)
            do {
                try Data(html.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
            } catch {
                throw LoupeError(.io, "cannot write \(output): \(error.localizedDescription)")
            }
            progress.done()
            print(String(format: "wrote %@ (%.1f MB, %d image%@, %.1f s)", output, Double(html.utf8.count) / 1e6, inputs.count,
                         inputs.count == 1 ? "" : "s", Date().timeIntervalSince(started)))
        }
    }

    // MARK: - Pieces

    /// The sanity check of `e` (docs/report.md): Spearman of the absolute maps after full
    /// randomisation, or a note saying why there is none (a model with nothing to randomise, a
    /// randomisation that makes the scores or the map non-finite, naming the layer).
    func sanityResult(_ e: Explanation, _ full: SanityCheck.FullRandomization?, note: String?, input x: Tensor,
                      options: Method.Options) -> ReportDocument.SanityResult {
        var r = ReportDocument.SanityResult(spearmanAbs: nil, threshold: SanityCheck.threshold, seed: sanitySeed)
        guard let full else {
            r.note = "not possible, \(note ?? "no randomised model")"
            return r
        }
        do {
            let scores = try full.compare(e, input: x, options: options)
            r.spearmanAbs = scores.spearmanAbs.isFinite ? scores.spearmanAbs : nil
        } catch let err as LoupeError {
            r.note = "not possible, \(err.message)"
        } catch {
            r.note = "not possible, \(error)"
        }
        return r
    }

    /// The predicted class as `loupe visualize --class C` draws it (its defaults, seed 0,
    /// `--visualize-steps` steps), with the probability the model gives the picture.
    func classVisualization(_ m: ExplainableModel, class c: Int, labels: [String]) throws -> ReportDocument.Figure {
        let geo = try FeatureVisualization.inputGeometry(m)
        var settings = FeatureVisualization.Settings()
        settings.steps = visualizeSteps
        let values = try Visualize.inputValues(image, for: m.graph.inputs[0], channels: geo.channels)
        let r = try FeatureVisualization.run(m, objective: .classScore(c), input: values, settings: settings, onStep: nil)
        let p = softmax(r.logits)
        let name = c < labels.count ? "class \(c) (\(labels[c]))" : "class \(c)"
        return ReportDocument.Figure(
            title: "What the model takes for \(name)",
            image: try Visualize.picture(r.image),
            caption: String(format: "An image made to raise the score of %@ by gradient ascent (loupe visualize: Fourier parameterisation, decorrelated colour, random transformations each step, Adam; %d steps, seed 0). The model gives it probability %.4f for that class.", name, r.steps, Double(c < p.count ? p[c] : 0)))
    }

    func pictureStyle() throws -> ExplanationPicture.Style {
        var s = ExplanationPicture.Style()
        s.colormap = try Colormap.named(colormap)
        return s
    }

    /// `fed`: the shape of the input the report runs on, which sets dynamic sizes (H and W).
    func modelFacts(_ g: Graph, fed: [Int]? = nil) throws -> ReportDocument.Model {
        let attrs = try? FileManager.default.attributesOfItem(atPath: model)
        let bytes = (attrs?[.size] as? NSNumber)?.intValue ?? 0
        var facts = ReportDocument.Model(path: model, sha256: try SHA256.hex(ofFile: model), bytes: bytes,
                                         producer: g.metadata["producer"] ?? "", opset: g.opset)
        let s: GraphSummary
        let sizes = g.dynamicDimensions().isEmpty || g.inputs.count != 1 ? [:] : fed.map { [g.inputs[0].name: [1] + $0.dropFirst()] } ?? [:]
        do { s = try GraphSummary(graph: g, inputTypes: try ModelFile.inputTypes(g, overrides: sizes)) } catch let e as LoupeError { throw e.context(model) }
        facts.inputs = zip(s.inputNames, s.inputs).map { .init(name: $0, type: "\($1)") }
        facts.outputs = zip(s.outputNames, s.outputs).map { .init(name: $0, type: "\($1)") }
        facts.parameters = s.parameters
        facts.macs = s.macs
        facts.foldedNodes = s.foldedNodes
        facts.layers = s.nodes.map {
            .init(name: $0.name, op: $0.opType, shape: $0.outputTypes.map { describe($0.shape) }.joined(separator: " "),
                  parameters: $0.parameters, macs: $0.macs)
        }
        return facts
    }

    /// The first convolution's weights as `FilterGrid` draws them, or a note saying why not.
    func firstLayerFilters(_ graph: Graph) -> (ReportDocument.Figure?, String?) {
        let conv: Node, w: Tensor
        do {
            (conv, w) = try graph.convolutionWeights(transposed: false)
        } catch let e as LoupeError {
            return (nil, e.message.prefix(1).uppercased() + e.message.dropFirst() + ".")
        } catch {
            return (nil, "No filter picture: \(error)")
        }
        do {
            let picture = try FilterGrid.render(w)
            let how = w.shape[1] == 3 ? "one colour tile per filter (R, G, B)" : "one gray tile per filter and input channel, a row per filter"
            return (ReportDocument.Figure(title: conv.name, image: picture,
                                          caption: "weights \(describe(w.shape)): \(how), each tile scaled from its own minimum (dark) to maximum (bright)."), nil)
        } catch let e as LoupeError {
            return (nil, "No filter picture: \(e.message)")
        } catch {
            return (nil, "No filter picture: \(error)")
        }
    }

    /// Whether the model takes BGR (so the input picture swaps channels back).
    func inputIsBGR(_ g: Graph) throws -> Bool {
        guard image.inputNpy == nil, let input = g.inputs.first else { return false }
        return try image.resolve(for: input).0.channelOrder == .bgr
    }

    func settings(chosenLayer: (node: String, tensor: String)?, occ: Occlusion.Settings, sha256: String, g: Graph) -> [(String, String)] {
        var rows: [(String, String)] = []
        rows.append(("methods", chosenMethods.map(\.rawValue).joined(separator: ", ")))
        rows.append(("target", explanation.target.map { "\($0) (given)" } ?? "each image's predicted class"))
        rows.append(("score", explanation.scoreKind == .logit ? "logit (the pre-softmax class score)" : "softmax probability"))
        if let chosenLayer {
            rows.append(("layer (\(Method.allCases.filter(\.takesLayer).map(\.title).joined(separator: ", ")))",
                         chosenLayer.node + (explanation.layer == nil ? " (default: the last layer with a spatial output)" : "")))
        }
        if chosenMethods.contains(.occlusion) {
            rows.append(("occlusion", "window \(occ.window.0)x\(occ.window.1), stride \(occ.stride.0)x\(occ.stride.1), baseline \(occ.baseline), batch \(occ.batch)"))
        }
        if chosenMethods.contains(.integratedGradients) {
            rows.append(("integrated gradients", "\(explanation.steps) steps, \(explanation.integration) rule, baseline \(explanation.baseline)"))
        }
        if let nt = explanation.noiseTunnel {
            rows.append(("noise tunnel", "\(nt) over \(Method.names(chosenMethods.filter(\.takesNoiseTunnel), last: "and")): \(explanation.noiseSamples) samples, std \(explanation.noiseStd.map { "\($0)" } ?? "15 % of each input's value range"), seed \(explanation.noiseSeed)"))
        }
        if chosenMethods.contains(.activations) { rows.append(("activations", "the most active channel, shown where it reaches its 0.99 quantile")) }
        rows.append(("class visualisation", visualizeSteps > 0 ? "loupe visualize --class C for each predicted class: \(visualizeSteps) steps, seed 0, its defaults otherwise" : "left out (--visualize-steps 0)"))
        if !noAUC {
            rows.append(("deletion / insertion AUC", "RISE's areas under the softmax probability of the target as the map's pixels, most attributed first, are set to zero (deletion: lower is better) or put back into a blurred copy (insertion: higher is better), \(aucStep) pixels per step; docs/evaluate.md"))
        }
        rows.append(("sanity check", noSanity ? "left out (--no-sanity)" : "Adebayo et al. 2018: each method run once more per image on the model with every Conv, Gemm and MatMul layer re-drawn (normal, each tensor's own standard deviation, BatchNorm kept, seed \(sanitySeed)); it fails when the Spearman rank correlation of the absolute maps (channels summed) with the original is above \(SanityCheck.threshold); docs/sanity.md"))
        rows.append(("heat-map colormap", "\(colormap), alpha 0.5 over the image"))
        if let npy = image.inputNpy {
            rows.append(("input", "\(npy) (a tensor fed as it is)"))
        } else if let input = g.inputs.first, let (p, h, w) = try? image.resolve(for: input) {
            var parts = ["preset \(image.preprocess)"]
            if let r = p.resizeShorterSide { parts.append("resize shorter side \(r)") }
            parts.append("\(p.resizeShorterSide == nil ? "resize to" : "center crop") \(h)x\(w)")
            parts.append("values \(p.scale == .byte ? "0–255" : "0–1")")
            if !p.mean.isEmpty { parts.append("mean \(p.mean.map { String(format: "%g", $0) }.joined(separator: ","))") }
            if !p.std.isEmpty { parts.append("std \(p.std.map { String(format: "%g", $0) }.joined(separator: ","))") }
            parts.append(p.grayscale ? "grayscale" : p.channelOrder.rawValue.uppercased())
            parts.append(p.layout.rawValue.uppercased())
            rows.append(("preprocessing", parts.joined(separator: ", ")))
        }
        if let labels { rows.append(("labels", labels)) }
        rows.append(("threads", global.threads.map(String.init) ?? "all cores"))
        rows.append(("Loupe version", LoupeVersion.string))
        rows.append(("model SHA-256", sha256))
        let f = ISO8601DateFormatter()
        rows.append(("made", f.string(from: Date())))
        return rows
    }
}

/// One overwritten status line on stderr while the report is made, only on a terminal.
final class ReportProgress {
    let enabled = isatty(2) != 0
    private var width = 0

    func say(_ text: String) {
        guard enabled else { return }
        let line = "report: " + text
        let pad = max(0, width - line.count)
        width = line.count
        FileHandle.standardError.write(Data(("\r" + line + String(repeating: " ", count: pad)).utf8))
    }

    func done() {
        guard enabled else { return }
        FileHandle.standardError.write(Data(("\r" + String(repeating: " ", count: width) + "\r").utf8))
    }
}
