import ArgumentParser
import Foundation
import LoupeFormats
import LoupeGraph
import LoupeSurgery
import LoupeTensor

struct SurgeryCAM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cam",
        abstract: "Restructure a classifier so that CAM applies: global average pooling and one fitted linear layer after the last spatial feature map.",
        discussion: """
            Everything after the last convolution block's feature map (the last spatial map \
            before the class scores, before any trailing pooling; or --at NAME) is replaced by \
            GlobalAveragePool and one Gemm (a final Softmax is kept). Only the new layer is \
            trained, by Loupe itself: the pooled features of the images in --images are \
            computed once, then softmax cross-entropy is minimised with full-batch Adam \
            (default 300 epochs, learning rate 0.01, weight decay 1e-4) or plain gradient \
            descent (--optimizer sgd). By default the targets are the original model's own \
            softmax outputs (distillation: no labels needed); with --labels-from-folders they \
            are the class sub-folders of --images, matched to classes through --labels or in \
            sorted order.

            A held-out share of the images (--holdout, default 0.2; a seeded split) is not \
            trained on; the command prints how often the new model's top-1 class agrees with \
            the original's on it (and both accuracies when labels exist), and writes the same \
            as JSON beside the model (OUT.cam.json). The same --seed and --threads give the same model.

            A model that already ends in global average pooling and one linear layer (or \
            SqueezeNet's 1×1 Conv head) is reported as CAM-ready and left alone unless --force.

            Examples:
              loupe surgery cam vgg16.onnx --images photos/ -o vgg16-cam.onnx
              loupe surgery cam model.onnx --images train/ --labels-from-folders --labels labels.txt -o model-cam.onnx
              loupe explain vgg16-cam.onnx cat.jpg --method cam
            """)

    @Argument(help: "The model file.")
    var model: String

    @Option(help: "Folder of images (PNG or JPEG, searched recursively) to fit the new layer on.")
    var images: String

    @Flag(name: .customLong("labels-from-folders"), help: "Train on labels: each sub-folder of --images is a class.")
    var labelsFromFolders = false

    @Option(help: "With --labels-from-folders: a text file with one class label per line, in the model's class order; folder names are looked up in it (default: folders in sorted order are classes 0, 1, ...).")
    var labels: String?

    @Option(help: "Keep the model up to this layer (node name) or tensor, a spatial map [N, K, H, W]. Default: the last convolution block's output before the class scores (before any trailing pooling).")
    var at: String?

    @Option(parsing: .unconditional, help: "Fraction of the images held out for the agreement report (0 to below 1).")
    var holdout: Double = 0.2

    @Option(help: "Also fit on mirrored copies of the fitting images, each distilled from the original's output on it: none, hflip (left-right), flips (left-right, up-down and both; for subjects without an up and down), or dihedral (flips plus the transposed images: every quarter turn and mirror; square inputs).")
    var augment: String = "none"

    @Option(parsing: .unconditional, help: "Training epochs (full-batch steps).")
    var epochs: Int = 300

    @Option(name: .customLong("learning-rate"), parsing: .unconditional, help: "Step size.")
    var learningRate: Float = 0.01

    @Option(help: "adam or sgd (plain gradient descent; try --learning-rate 0.5).")
    var optimizer: String = "adam"

    @Option(name: .customLong("weight-decay"), parsing: .unconditional, help: "L2 penalty on the new weights.")
    var weightDecay: Float = 1e-4

    @Option(help: "Seed for the held-out split and the initial weights.")
    var seed: UInt64 = 0

    @OptionGroup var out: SurgeryOutput
    @OptionGroup var image: ImageOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard holdout >= 0, holdout < 1 else { throw ValidationError("--holdout must be at least 0 and below 1, got \(holdout)") }
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1") }
        guard learningRate > 0, learningRate.isFinite else { throw ValidationError("--learning-rate must be positive") }
        guard weightDecay >= 0 else { throw ValidationError("--weight-decay must not be negative") }
        guard CAMRestructure.Augment(rawValue: augment) != nil else { throw ValidationError("--augment must be none, hflip, flips or dihedral; got '\(augment)'") }
        guard HeadTraining.Optimizer(rawValue: optimizer) != nil else { throw ValidationError("--optimizer must be adam or sgd; got '\(optimizer)'") }
        if labels != nil && !labelsFromFolders { throw ValidationError("--labels applies with --labels-from-folders") }
    }

    /// `out.onnx` → `out.cam.json`.
    var reportPath: String {
        let url = URL(fileURLWithPath: out.output)
        let base = url.pathExtension.lowercased() == "onnx" ? url.deletingPathExtension() : url
        return base.path + ".cam.json"
    }

    func run() throws {
        global.apply()
        try runReportingErrors {
            try checkWritable(out.output, force: out.force)
            try checkWritable(reportPath, force: out.force)
            let g = try loadModel(model, config: global.config)
            if !out.force, let why = try CAMHead.readyTail(g) {
                print("\(model) is CAM-ready: \(why). Left alone (pass --force to restructure it anyway); use `loupe explain \(model) IMAGE --method cam`.")
                return
            }
            let (paths, labelIndex) = try collectImages()
            var settings = CAMRestructure.Settings()
            settings.features = try at.map { try g.resolveTensor($0) }
            settings.holdout = holdout
            settings.augment = CAMRestructure.Augment(rawValue: augment)!
            settings.training.epochs = epochs
            settings.training.learningRate = learningRate
            settings.training.optimizer = HeadTraining.Optimizer(rawValue: optimizer)!
            settings.training.weightDecay = weightDecay
            settings.training.seed = seed
            let need = HeadTraining.minimumImages(holdout: holdout)
            guard paths.count >= need else {
                throw LoupeError(.invalidArgument, "\(images) has \(paths.count) image\(paths.count == 1 ? "" : "s"); a held-out split of \(holdout) needs at least \(need) (one or more held out, the rest to fit)")
            }
            let loading = Progress(label: "loading images")
            var inputs: [Tensor] = []
            for (i, p) in paths.enumerated() {
                inputs.append(try image.inputs(for: g, images: [p])[0].tensor)
                loading.update(i + 1, paths.count)
            }
            let extract = Progress(label: "features"), train = Progress(label: "training epoch")
            let (result, report) = try CAMRestructure.run(g, inputs: inputs, labels: labelIndex, settings: settings,
                                                          extractProgress: extract.update, trainProgress: train.update)
            func pct(_ v: Double?) -> String { v.map { String(format: "%.1f%%", $0 * 100) } ?? "n/a" }
            print("""
                features: '\(report.features)' \(describe(report.featureShape)), \(report.classes) classes
                fitted on \(report.fitImages) images\(report.fitExamples > report.fitImages ? " and their mirrors (\(report.fitExamples) examples)" : "") (\(report.targets)), held out \(report.heldOutImages); \(report.epochs) epochs of \(report.optimizer), final loss \(String(format: "%.4f", report.finalLoss))
                top-1 agreement with the original: \(pct(report.agreementHeldOut)) held out, \(pct(report.agreementFit)) fitted
                """)
            if labelIndex != nil {
                print("held-out accuracy: original \(pct(report.accuracyOriginalHeldOut)), new \(pct(report.accuracyNewHeldOut))")
            }
            try out.write(result, summary: "replaced the layers after '\(report.features)' with GlobalAveragePool and one Gemm")
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            do {
                try enc.encode(report).write(to: URL(fileURLWithPath: reportPath))
            } catch {
                throw LoupeError(.io, "\(reportPath): cannot write (\(error.localizedDescription))")
            }
            print("wrote \(reportPath)")
        }
    }

    /// The image paths and, with --labels-from-folders, their class indices.
    func collectImages() throws -> ([String], [Int]?) {
        guard labelsFromFolders else { return (try ImageFolder.files(in: images), nil) }
        let found = try ImageFolder.classified(in: images, labels: try labels.map(LabelFile.read), labelsPath: labels ?? "")
        return (found.paths, found.classes)
    }
}
