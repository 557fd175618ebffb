import ArgumentParser
import Foundation
import LoupeFormats
import LoupeGraph
import LoupeTensor

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify images and print the top classes with their probabilities.",
        discussion: """
            Each image is decoded (PNG 8/16-bit gray, RGB, RGBA or palette; JPEG), preprocessed \
            (see the options; the layout, size and channel count follow the model's input) and \
            run through the model. The first graph output is taken as class scores; softmax is \
            applied unless the graph already ends in a Softmax, in which case its input is \
            reported as the logit.

            Examples:
              loupe predict resnet18.onnx cat.jpg dog.png --top 5 --labels imagenet.txt
              loupe predict model.onnx --input-npy x.npy --json
            """)

    @Argument(help: "The model file (.onnx, .h5 or .keras).")
    var model: String

    @Argument(help: "Images to classify (PNG or JPEG).")
    var images: [String] = []

    @Option(help: "How many classes to show per image.")
    var top: Int = 5

    @Option(help: "A text file with one class label per line, in class-index order.")
    var labels: String?

    @Flag(help: "Print JSON: per image, a list of {index, label, probability, logit}.")
    var json = false

    @OptionGroup var image: ImageOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard top >= 1 else { throw ValidationError("--top must be at least 1") }
        if images.isEmpty && image.inputNpy == nil { throw ValidationError("give at least one image, or --input-npy FILE") }
    }

    struct Entry: Encodable {
        var index: Int
        var label: String?
        var probability: Double
        var logit: Double
    }
    struct ImageResult: Encodable {
        var image: String
        var predictions: [Entry]
    }

    func run() throws {
        global.apply()
        try runReportingErrors {
            let g = try loadModel(model, config: global.config)
            let labelList = try labels.map(readLabels) ?? []
            guard let output = g.outputs.first?.name else { throw LoupeError.invalid("\(model): the model has no output") }
            // If the graph ends in Softmax, report its input as the logits.
            let producer = g.nodes.last { $0.outputs.contains(output) }
            let endsInSoftmax = producer?.opType == "Softmax"
            let logitName = endsInSoftmax ? producer!.inputs[0] : output
            let exec = try makeExecutor(g, path: model)
            let inputs = try image.inputs(for: g, images: images)
            let progress = Progress(label: "predict")
            var results: [ImageResult] = []
            for (i, (name, x)) in inputs.enumerated() {
                let out = try exec.run([g.inputs[0].name: x], keep: endsInSoftmax ? [logitName] : [])
                let logits = out[logitName]!
                guard logits.isFloat, let classes = logits.shape.last, classes > 0 else {
                    throw LoupeError.invalid("output '\(logitName)' has shape \(describe(logits.shape)); expected class scores")
                }
                let rows = logits.count / classes
                for r in 0..<rows {
                    let row = Array(logits.floats[(r * classes)..<((r + 1) * classes)])
                    let probs = endsInSoftmax ? Array(out[output]!.floats[(r * classes)..<((r + 1) * classes)]) : softmax(row)
                    let order = (0..<classes).sorted { probs[$0] > probs[$1] || (probs[$0] == probs[$1] && $0 < $1) }
                    let entries = order.prefix(top).map {
                        Entry(index: $0, label: $0 < labelList.count ? labelList[$0] : nil,
                              probability: Double(probs[$0]), logit: Double(row[$0]))
                    }
                    results.append(ImageResult(image: rows > 1 ? "\(name)[\(r)]" : name, predictions: entries))
                }
                progress.update(i + 1, inputs.count)
            }
            if json {
                try printJSON(results)
            } else {
                for r in results {
                    print(r.image)
                    for e in r.predictions {
                        let label = e.label.map { " \($0)" } ?? ""
                        print(String(format: "  %6.2f%%  %5d%@  (logit %.4f)", e.probability * 100, e.index, label, e.logit))
                    }
                }
            }
        }
    }
}

func readLabels(_ path: String) throws -> [String] {
    try InputFile.text(path, as: "labels file").split(separator: "\n", omittingEmptySubsequences: false).map {
        $0.trimmingCharacters(in: .whitespacesAndNewlines)
    }.filter { !$0.isEmpty }
}

/// Numerically stable softmax in Double.
func softmax(_ x: [Float]) -> [Float] {
    let m = x.max() ?? 0
    let e = x.map { exp(Double($0 - m)) }
    let s = e.reduce(0, +)
    return e.map { Float($0 / s) }
}
