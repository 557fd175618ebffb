import ArgumentParser
import Foundation
import LoupeExplain
import LoupeFormats
import LoupeGraph
import LoupeRender
import LoupeTensor

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure how faithful explanation methods are to the model: deletion, insertion, ROAD, confidence change and the pointing game.",
        discussion: """
            For each image and method, the method's map (reduced over channels and upsampled \
            bilinearly to the input) is scored by: deletion and insertion AUC (Petsiuk et al., \
            RISE 2018: pixels set to zero, or put back into a blurred copy, in order of \
            attribution, --step pixels at a time; the area under the class probability); ROAD \
            (Rong et al. 2022: the score change when the most or least relevant 10..90 % of \
            pixels are imputed from their neighbours); the average drop and increase in \
            confidence (Chattopadhay et al., Grad-CAM++ 2018: the input multiplied by the map); \
            and with --boxes the pointing game (Zhang et al. 2016). The score is the softmax \
            probability of the explained class. Lower deletion, higher insertion, higher ROAD \
            combined, lower drop and more hits are better. Averages per method follow. \
            docs/evaluate.md gives every definition and the reference code each matches.

            Examples:
              loupe evaluate shapes-gap.onnx test/*.png --preprocess none --methods grad-cam,saliency,random
              loupe evaluate model.onnx cat.jpg --methods all --boxes annotations.json --json -o curves.png
            """)

    @Argument(help: "The model file (.onnx, .h5 or .keras).")
    var model: String

    @Argument(help: "Images to evaluate on (PNG or JPEG).")
    var images: [String] = []

    @Option(help: ArgumentHelp("Comma-separated methods among \(Evaluate.methodNames.joined(separator: ", ")); or all (every one). random is a baseline: a map of uniform noise (seed --seed)."))
    var methods: String = "grad-cam,saliency,random"

    @Option(help: "Which metrics to compute, comma-separated among deletion, insertion, road, confidence and pointing (pointing needs --boxes).")
    var metrics: String = "deletion,insertion,road,confidence,pointing"

    @Option(help: "Object boxes for the pointing game: a JSON file in the format of SampleModels/shapes/test/annotations.json ({\"images\": [{\"file\": NAME, \"box\": [x0, y0, x1, y1]}, ...]}, in pixels of the model's input, x1 and y1 exclusive), matched to the images by file name.")
    var boxes: String?

    @Option(parsing: .unconditional, help: "Pointing game: a hit is a map peak within this many pixels of the box (Zhang et al. use 15; 0 counts only peaks inside).")
    var tolerance: Double = 0

    @Option(parsing: .unconditional, help: "Deletion and insertion: pixels changed per step (RISE's 224).")
    var step: Int = 224

    @Option(name: .customLong("road-noise"), parsing: .unconditional, help: "ROAD: the standard deviation of the noise added to imputed pixels, in the model's input space (pytorch-grad-cam's 0.01).")
    var roadNoise: Double = 0.01

    @Option(help: "Seed of the ROAD noise and of the random baseline map.")
    var seed: UInt64 = 0

    @Option(parsing: .unconditional, help: "How many images go through the model at once (perturbed copies, occlusion windows).")
    var batch: Int = 16

    @Option(help: "A text file with one class label per line.")
    var labels: String?

    @Option(name: .shortAndLong, help: "Write the mean deletion and insertion curves of each method as a PNG here.")
    var output: String?

    @Flag(help: "Overwrite an existing -o file.")
    var force = false

    @Flag(help: "Print one JSON document on stdout instead of the text: per image and method every metric with its curves, and the averages per method.")
    var json = false

    @OptionGroup var explanation: ExplanationOptions
    @OptionGroup var image: ImageOptions
    @OptionGroup var global: GlobalOptions

    /// The methods whose maps are attributions of a class, and the random baseline.
    static var methodNames: [String] { Method.allCases.filter { $0.mapKind != .featureMaps }.map(\.rawValue) + ["random"] }

    /// nil stands for the random baseline.
    func parsedMethods() throws -> [Method?] {
        if methods == "all" { return Method.allCases.filter { $0.mapKind != .featureMaps } + [nil] }
        let names = methods.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var out: [Method?] = []
        for n in names {
            if n == "random" { out.append(nil); continue }
            guard let m = Method(rawValue: n), m.mapKind != .featureMaps else {
                let why = Method(rawValue: n) != nil ? " (its map is a layer's feature maps, not an attribution of a class)" : ""
                throw ValidationError("--methods: unknown method '\(n)'\(why); valid: \(Self.methodNames.joined(separator: ", ")), or all")
            }
            out.append(m)
        }
        return out
    }

    func parsedMetrics() throws -> Set<Evaluation.Metric> {
        var out = Set<Evaluation.Metric>()
        for n in metrics.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let m = Evaluation.Metric(rawValue: n) else {
                throw ValidationError("--metrics: unknown metric '\(n)'; valid: \(Evaluation.Metric.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            out.insert(m)
        }
        return out
    }

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("give at least one image") }
        _ = try parsedMethods()
        _ = try parsedMetrics()
        guard step >= 1 else { throw ValidationError("--step must be at least 1 pixel, got \(step)") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        guard tolerance >= 0, tolerance.isFinite else { throw ValidationError("--tolerance must be a non-negative number of pixels, got \(tolerance)") }
        guard roadNoise >= 0, roadNoise.isFinite else { throw ValidationError("--road-noise must be a non-negative number, got \(roadNoise)") }
    }

    struct Record: Encodable {
        var image: String
        var method: String
        var target: Int
        var label: String?
        var metrics: Evaluation.Result
    }

    struct Summary: Encodable {
        var method: String
        var images: Int
        var deletion_auc: Double?
        var insertion_auc: Double?
        var road_morf: Double?
        var road_lerf: Double?
        var road_combined: Double?
        var drop: Double?
        var average_drop_percent: Double?
        var increase_in_confidence_percent: Double?
        var pointing_accuracy: Double?
        var deletion_curve: [Double]?
        var insertion_curve: [Double]?
    }

    struct Document: Encodable {
        var model: String
        var step: Int
        var tolerance: Double
        var road_noise: Double
        var seed: UInt64
        var results: [Record]
        var averages: [Summary]
        var curves: String?
    }

    func run() throws {
        global.apply()
        try runReportingErrors {
            let chosen = try parsedMethods()
            var settings = Evaluation.Settings()
            settings.metrics = try parsedMetrics()
            settings.step = step
            settings.batch = batch
            settings.tolerance = tolerance
            settings.road.noise = roadNoise
            settings.road.seed = seed
            let labelList = try labels.map(LabelFile.read) ?? []
            // Boxes, matched by file name; every image must have one.
            var boxFor: [String: PointingGame.Box] = [:]
            if let boxes {
                let ann = try PointingGame.annotations(file: boxes)
                var byName: [String: PointingGame.Box] = [:]
                for a in ann { byName[(a.file as NSString).lastPathComponent] = a.box }
                let missing = images.filter { byName[($0 as NSString).lastPathComponent] == nil }
                guard missing.isEmpty else {
                    throw LoupeError(.invalidArgument, "--boxes \(boxes) has no box for \(missing.count == 1 ? "image" : "images") \(missing.prefix(10).joined(separator: ", "))\(missing.count > 10 ? ", …" : "")")
                }
                for path in images { boxFor[path] = byName[(path as NSString).lastPathComponent] }
                let given = Set(images.map { ($0 as NSString).lastPathComponent })
                let unused = ann.map(\.file).filter { !given.contains(($0 as NSString).lastPathComponent) }
                if !unused.isEmpty && !json {
                    note("note: --boxes \(boxes) has boxes for \(unused.count) image\(unused.count == 1 ? "" : "s") not given (\(unused.prefix(5).joined(separator: ", "))\(unused.count > 5 ? ", …" : ""))")
                }
            } else if parsedMetricsNeedBoxes(settings) {
                settings.metrics.remove(.pointing)
            }
            if let output { try checkWritable(output, force: force) }

            let g = try loadModel(model, config: global.config)
            let m: ExplainableModel
            do { m = try ExplainableModel(graph: g) } catch let e as LoupeError { throw e.context(model) }
            let realMethods = chosen.compactMap { $0 }
            let inputs = try image.inputs(for: m.graph, images: images)
            var options = try explanation.options(target: nil, occlusionBatch: batch, methods: realMethods, graph: m.graph, image: image)
            var records: [Record] = []
            let progress = Progress(label: "evaluate")
            var rng = SplitMix64(seed: seed ^ 0x5EED)
            for (i, (name, x)) in inputs.enumerated() {
                let (logits, _) = try m.forward(x)
                let t = try m.resolveTarget(explanation.target, logits: logits, labels: labelList)
                options.target = t
                let (h, w) = (x.shape[2], x.shape[3])
                for method in chosen {
                    let map: AttributionMap
                    if let method {
                        let e: Explanation
                        do { e = try method.run(on: m, input: x, options: options) } catch let err as LoupeError where method == .cam && chosen.count > 1 {
                            note("note: cam skipped: \(FlagNames.map(err).message)")
                            continue
                        }
                        map = try AttributionMap(e, height: h, width: w)
                    } else {
                        map = AttributionMap(height: h, width: w, values: (0..<(h * w)).map { _ in Float(rng.next() >> 40) / Float(1 << 24) })
                    }
                    let r = try Evaluation.evaluate(m, input: x, map: map, target: t, box: boxFor[images[min(i, images.count - 1)]], settings: settings)
                    let rec = Record(image: name, method: method?.rawValue ?? "random", target: t, label: t < labelList.count ? labelList[t] : nil, metrics: r)
                    records.append(rec)
                    if !json { print(line(rec)) }
                }
                progress.update(i + 1, inputs.count)
            }
            let order = chosen.map { $0?.rawValue ?? "random" }
            let summaries = order.compactMap { name -> Summary? in
                let rs = records.filter { $0.method == name }.map(\.metrics)
                return rs.isEmpty ? nil : summary(name, rs)
            }
            if !json {
                print("averages over \(inputs.count) image\(inputs.count == 1 ? "" : "s"):")
                for s in summaries { print(summaryLine(s)) }
            }
            if let output {
                var panels: [RGBImage] = []
                for (mode, key) in [("deletion", \Summary.deletion_curve), ("insertion", \Summary.insertion_curve)] {
                    let series = summaries.compactMap { s in s[keyPath: key].map { CurvePlot.Series(String(format: "%@ (AUC %.3f)", s.method, DeletionInsertion.auc($0)), $0) } }
                    if !series.isEmpty {
                        panels.append(try CurvePlot.render(series, title: "\(mode.capitalized) (mean over \(inputs.count) image\(inputs.count == 1 ? "" : "s"), \(step) px per step)",
                                                           xLabel: "fraction of pixels \(mode == "deletion" ? "deleted" : "inserted")", yLabel: "p(class)"))
                    }
                }
                guard !panels.isEmpty else { throw LoupeError(.invalidArgument, "-o \(output): the curves need the deletion or insertion metric (--metrics)") }
                var picture = try RGBImage(width: panels.map(\.width).reduce(0, +), height: panels.map(\.height).max()!, fill: (1, 1, 1))
                var x0 = 0
                for p in panels { picture.paste(p, x: x0, y: 0); x0 += p.width }
                try checkWritable(output, force: force)
                try ImageIO.writePNG(picture, path: output)
                if !json { print("  -> \(output)") }
            }
            if json {
                try printJSON(Document(model: model, step: step, tolerance: tolerance, road_noise: roadNoise, seed: seed,
                                       results: records, averages: summaries, curves: output))
            }
        }
    }

    func parsedMetricsNeedBoxes(_ s: Evaluation.Settings) -> Bool { s.metrics.contains(.pointing) }

    func line(_ r: Record) -> String {
        var parts: [String] = []
        let e = r.metrics
        if let d = e.deletion { parts.append(String(format: "deletion %.4f", d.auc)) }
        if let d = e.insertion { parts.append(String(format: "insertion %.4f", d.auc)) }
        if let d = e.road { parts.append(String(format: "ROAD MoRF %.4f LeRF %.4f combined %.4f", d.morf, d.lerf, d.combined)) }
        if let d = e.confidence { parts.append(String(format: "drop %.4f (%.1f %%) increase %d", d.drop, 100 * d.relativeDrop, Int(d.increase))) }
        if let d = e.pointing { parts.append("pointing \(d.hit ? "hit" : "miss") at (\(d.x), \(d.y))") }
        let label = r.label.map { " \($0)" } ?? ""
        return "\(r.image) \(r.method) (class \(r.target)\(label)): " + parts.joined(separator: ", ")
    }

    func summary(_ method: String, _ rs: [Evaluation.Result]) -> Summary {
        func mean(_ v: [Double]) -> Double? { v.isEmpty ? nil : v.reduce(0, +) / Double(v.count) }
        func meanCurve(_ cs: [[Double]]) -> [Double]? {
            guard let n = cs.first?.count, cs.allSatisfy({ $0.count == n }) else { return nil }
            return (0..<n).map { k in cs.reduce(0) { $0 + $1[k] } / Double(cs.count) }
        }
        return Summary(method: method, images: rs.count,
                       deletion_auc: mean(rs.compactMap { $0.deletion?.auc }), insertion_auc: mean(rs.compactMap { $0.insertion?.auc }),
                       road_morf: mean(rs.compactMap { $0.road?.morf }), road_lerf: mean(rs.compactMap { $0.road?.lerf }),
                       road_combined: mean(rs.compactMap { $0.road?.combined }),
                       drop: mean(rs.compactMap { $0.confidence?.drop }),
                       average_drop_percent: mean(rs.compactMap { $0.confidence?.relativeDrop }).map { $0 * 100 },
                       increase_in_confidence_percent: mean(rs.compactMap { $0.confidence?.increase }).map { $0 * 100 },
                       pointing_accuracy: mean(rs.compactMap { $0.pointing.map { $0.hit ? 1 : 0 } }),
                       deletion_curve: meanCurve(rs.compactMap { $0.deletion?.scores }),
                       insertion_curve: meanCurve(rs.compactMap { $0.insertion?.scores }))
    }

    func summaryLine(_ s: Summary) -> String {
        var parts: [String] = []
        if let v = s.deletion_auc { parts.append(String(format: "deletion %.4f", v)) }
        if let v = s.insertion_auc { parts.append(String(format: "insertion %.4f", v)) }
        if let a = s.road_morf, let b = s.road_lerf, let c = s.road_combined { parts.append(String(format: "ROAD MoRF %.4f LeRF %.4f combined %.4f", a, b, c)) }
        if let a = s.drop, let b = s.average_drop_percent, let c = s.increase_in_confidence_percent {
            parts.append(String(format: "drop %.4f, average drop %.1f %%, increase in confidence %.1f %%", a, b, c))
        }
        if let v = s.pointing_accuracy { parts.append(String(format: "pointing %.1f %%", 100 * v)) }
        return "  \(s.method): " + parts.joined(separator: ", ")
    }
}
