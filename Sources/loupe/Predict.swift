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
            run through the model. The first graph output is taken as class scores. When \
            the graph ends in a Softmax (possibly followed by Identity, Reshape, Flatten, \
            Squeeze, Unsqueeze, Dropout or Cast to float), its output is reported as the \
            probability and its input as the logit. Otherwise softmax is applied, unless every \
            output row is already non-negative and sums to 1 (within 1e-4): those outputs are \
            shown as probabilities as they are, with a note on stderr, and no logit.

            Examples:
              loupe predict resnet18.onnx cat.jpg dog.png --top 5 --labels imagenet.txt
              loupe predict model.onnx --input-npy x.npy --json
            """)

    @Argument(help: "The model file (.onnx, .h5 or .keras).")
    var model: String

    @Argument(help: "Images to classify (PNG or JPEG).")
    var images: [String] = []

    @Option(parsing: .unconditional, help: "How many classes to show per image.")
    var top: Int = 5

    @Option(help: "A text file with one class label per line, in class-index order.")
    var labels: String?

    @Flag(help: "Print JSON: per image, a list of {index, label, probability, logit} (no logit when the outputs are probabilities without a Softmax).")
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
        var logit: Double?
    }
    struct ImageResult: Encodable {
        var image: String
        var predictions: [Entry]
    }

    func run() throws {
        global.apply()
        try runReportingErrors {
            let g = try loadModel(model, config: global.config)
            let labelList = try labels.map(LabelFile.read) ?? []
            guard !g.outputs.isEmpty else { throw LoupeError.invalid("\(model): the model has no output") }
            let scores = try ClassScores(g)
            let exec = try makeExecutor(g, path: model)
            let inputs = try image.inputs(for: g, images: images)
            let progress = Progress(label: "predict")
            // Per row: its name, the class scores, and the probabilities when the graph gives them.
            var rows: [(name: String, logits: [Float], probs: [Float]?)] = []
            for (i, (name, x)) in inputs.enumerated() {
                let out = try exec.run([g.inputs[0].name: x], keep: [scores.logits])
                let logits = out[scores.logits]!
                guard logits.isFloat, let classes = logits.shape.last, classes > 0 else {
                    throw LoupeError.invalid("output '\(scores.logits)' has shape \(describe(logits.shape)); expected class scores")
                }
                var probs: [Float]? = nil
                if let s = scores.softmax {
                    // Value-preserving ops after the softmax keep the element order.
                    let p = out[scores.output]!
                    guard p.isFloat, p.count == logits.count else {
                        throw LoupeError.shape("\(model): output '\(scores.output)' \(describe(p.shape)) does not hold the \(s.opType) '\(s.name)' of '\(scores.logits)' \(describe(logits.shape)) value for value")
                    }
                    probs = p.floats
                }
                let n = logits.count / classes
                for r in 0..<n {
                    let span = (r * classes)..<((r + 1) * classes)
                    rows.append((n > 1 ? "\(name)[\(r)]" : name, Array(logits.floats[span]), probs.map { Array($0[span]) }))
                }
                progress.update(i + 1, inputs.count)
            }
            // The graph's softmax, or the outputs as they are when they already are probabilities.
            let (probRows, givenAsProbabilities) = scores.probabilities(
                logits: rows.map(\.logits), softmaxOutputs: scores.endsInSoftmax ? rows.map { $0.probs ?? [] } : nil)
            if givenAsProbabilities {
                FileHandle.standardError.write(Data("loupe: note: no Softmax found, but every row of the output '\(scores.output)' is non-negative and sums to 1: shown as probabilities as they are (no softmax applied, no logit shown)\n".utf8))
            }
            let results = zip(rows, probRows).map { row, probs in
                let order = probs.indices.sorted { probs[$0] > probs[$1] || (probs[$0] == probs[$1] && $0 < $1) }
                return ImageResult(image: row.name, predictions: order.prefix(top).map {
                    Entry(index: $0, label: $0 < labelList.count ? labelList[$0] : nil,
                          probability: Double(probs[$0]), logit: givenAsProbabilities ? nil : Double(row.logits[$0]))
                })
            }
            if json {
                try printJSON(results)
            } else {
                for r in results {
                    print(r.image)
                    for e in r.predictions {
                        let label = e.label.map { " \($0)" } ?? ""
                        let logit = e.logit.map { String(format: "  (logit %.4f)", $0) } ?? ""
                        print(String(format: "  %6.2f%%  %5d%@%@", e.probability * 100, e.index, label, logit))
                    }
                }
            }
        }
    }
}
