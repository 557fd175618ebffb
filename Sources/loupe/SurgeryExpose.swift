import ArgumentParser
import LoupeGraph
import LoupeSurgery

struct SurgeryExpose: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expose",
        abstract: "Add intermediate tensors as graph outputs, after the existing ones.",
        discussion: """
            Names are layer names as `loupe inspect` lists them (the layer's first output) or \
            tensor names. The computation is unchanged; runtimes such as onnxruntime then \
            return those tensors too.

            Example:
              loupe surgery expose model.onnx --outputs /layer1/Relu,/layer4/Relu -o model-taps.onnx
            """)

    @Argument(help: "The model file.")
    var model: String

    @Option(help: "Comma-separated layer or tensor names to add as outputs.")
    var outputs: String

    @OptionGroup var out: SurgeryOutput
    @OptionGroup var global: GlobalOptions

    var names: [String] { outputs.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }

    func validate() throws {
        if names.isEmpty { throw ValidationError("--outputs needs at least one name") }
    }

    func run() throws {
        global.apply()
        try runReportingErrors {
            try checkWritable(out.output, force: out.force)
            let g = try loadModel(model, config: global.config)
            let result = try Expose.apply(g, outputs: names)
            try out.write(result, summary: "outputs: \(describeOutputs(result))")
        }
    }
}
