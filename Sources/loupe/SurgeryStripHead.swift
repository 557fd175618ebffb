import ArgumentParser
import LoupeGraph
import LoupeSurgery

struct SurgeryStripHead: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strip-head",
        abstract: "Remove the last fully connected layer and what follows it, so the model outputs its penultimate features; or cut after any layer with --at.",
        discussion: """
            Without --at the output becomes the input of the last Gemm (or MatMul with constant \
            weights): the feature vector [N, K] the classifier reads. With --at NAME (a layer \
            name as `loupe inspect` lists it, or a tensor name) the model ends at that layer's \
            output; a spatial map [N, C, H, W] is kept as it is, or pooled to [N, C] with \
            --pool avg or --pool max. Layers and constants the new output does not need are \
            removed; the output equals the original's intermediate tensor exactly.

            Examples:
              loupe surgery strip-head resnet18.onnx -o resnet18-features.onnx
              loupe surgery strip-head vgg16.onnx --at /features/features.29/Relu --pool avg -o conv5.onnx
            """)

    @Argument(help: "The model file.")
    var model: String

    @Option(help: "Cut after this layer (node name) or tensor instead of before the last fully connected layer.")
    var at: String?

    @Option(help: "Pool a spatial cut to [N, C]: none, avg or max.")
    var pool: String = "none"

    @OptionGroup var out: SurgeryOutput
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard Cut.Pooling(rawValue: pool) != nil else { throw ValidationError("--pool must be none, avg or max; got '\(pool)'") }
        if pool != "none" && at == nil { throw ValidationError("--pool applies to a cut with --at NAME") }
    }

    func run() throws {
        global.apply()
        try runReportingErrors {
            try checkWritable(out.output, force: out.force)
            let g = try loadModel(model, config: global.config)
            let result: Graph
            let what: String
            if let at {
                let t = try g.resolveTensor(at)
                result = try Cut.apply(g, at: t, pool: Cut.Pooling(rawValue: pool)!)
                what = "cut after '\(t)'" + (pool == "none" ? "" : ", \(pool)-pooled")
            } else {
                let fc = try StripHead.lastLinearLayer(g)
                result = try StripHead.apply(g)
                what = "removed \(fc.label) and the layers after it"
            }
            try out.write(result, summary: "\(what); output \(describeOutputs(result))")
        }
    }
}
