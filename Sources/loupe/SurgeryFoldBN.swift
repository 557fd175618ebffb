import ArgumentParser
import LoupeGraph
import LoupeSurgery

struct SurgeryFoldBN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fold-bn",
        abstract: "Fold BatchNormalization layers into the Conv or Gemm before them.",
        discussion: """
            A BatchNormalization (inference mode) whose input comes from a Conv or Gemm that \
            feeds nothing else is merged into that layer's weights and bias; the outputs are \
            unchanged up to rounding (within 1e-5). Other BatchNormalization layers are left \
            as they are.

            Example:
              loupe surgery fold-bn model.onnx -o model-folded.onnx
            """)

    @Argument(help: "The model file.")
    var model: String

    @OptionGroup var out: SurgeryOutput
    @OptionGroup var global: GlobalOptions

    func run() throws {
        global.apply()
        try runReportingErrors {
            try checkWritable(out.output, force: out.force)
            let g = try loadModel(model, config: global.config)
            let before = g.nodes.filter { $0.opType == "BatchNormalization" }.count
            let (result, folded) = try FoldBatchNorm.apply(g)
            try out.write(result, summary: "folded \(folded.count) of \(before) BatchNormalization layers")
        }
    }
}
