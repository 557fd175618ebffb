import ArgumentParser
import LoupeGraph
import LoupeSurgery

struct SurgerySetBatch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-batch",
        abstract: "Fix the batch dimension of the model's inputs and outputs, or make it symbolic.",
        discussion: """
            N fixes dimension 0 of every input and output to N; dynamic makes it the symbol \
            `batch` (or the input's own symbol). Reshape targets that hard-code the old batch \
            size are rewritten to follow the input; any other constant that pins it is an error \
            naming the node.

            Examples:
              loupe surgery set-batch model.onnx 8 -o model-b8.onnx
              loupe surgery set-batch model.onnx dynamic -o model-dynamic.onnx
            """)

    @Argument(help: "The model file.")
    var model: String

    @Argument(help: "The batch size: a positive number, or dynamic.")
    var size: String

    @OptionGroup var out: SurgeryOutput
    @OptionGroup var global: GlobalOptions

    var batch: SetBatch.Size? {
        if size == "dynamic" { return .dynamic }
        if let n = Int(size), n >= 1 { return .fixed(n) }
        return nil
    }

    func validate() throws {
        if batch == nil { throw ValidationError("the batch size must be a positive number or dynamic, got '\(size)'") }
    }

    func run() throws {
        global.apply()
        try runReportingErrors {
            try checkWritable(out.output, force: out.force)
            let g = try loadModel(model, config: global.config)
            let (result, rewritten) = try SetBatch.apply(g, to: batch!)
            let note = rewritten.isEmpty ? "" : "; rewrote the Reshape target of \(rewritten.map { "'\($0)'" }.joined(separator: ", "))"
            try out.write(result, summary: "batch \(batch!)\(note); inputs \(result.inputs.map { "\($0.name) [\(($0.dims ?? []).map(\.description).joined(separator: ", "))]" }.joined(separator: ", ")), outputs \(describeOutputs(result))")
        }
    }
}
