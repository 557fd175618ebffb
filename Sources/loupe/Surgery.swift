import ArgumentParser
import Foundation
import LoupeFormats
import LoupeGraph
import LoupeTensor

struct Surgery: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rewrite a model and save it as ONNX: strip the classifier head, cut at a layer, add a CAM head, fold BatchNorm, expose tensors, set the batch size.",
        discussion: """
            Each subcommand reads a model, rewrites Loupe's graph, prunes the layers and \
            constants nothing needs any more, and writes an ONNX file (-o). An existing output \
            file is only replaced with --force.

            Examples:
              loupe surgery strip-head resnet18.onnx -o resnet18-features.onnx
              loupe surgery strip-head vgg16.onnx --at /features/features.29/Relu --pool avg -o vgg16-conv5.onnx
              loupe surgery cam vgg16.onnx --images photos/ -o vgg16-cam.onnx
              loupe surgery fold-bn model.onnx -o model-folded.onnx
              loupe surgery expose model.onnx --outputs /layer1/Relu,/layer2/Relu -o model-taps.onnx
              loupe surgery set-batch model.onnx dynamic -o model-dynamic.onnx
            """,
        subcommands: [SurgeryStripHead.self, SurgeryCAM.self, SurgeryFoldBN.self, SurgeryExpose.self, SurgerySetBatch.self]
    )
}

/// The output file and overwrite flag every surgery takes.
struct SurgeryOutput: ParsableArguments {
    @Option(name: .shortAndLong, help: ArgumentHelp("The ONNX file to write.", valueName: "out.onnx"))
    var output: String

    @Flag(help: "Overwrite the output file (and the CAM report) if they exist.")
    var force = false

    @Option(parsing: .unconditional, help: "ONNX opset to write (13 to 21). Default: the model's own opset, raised to 13 if older.")
    var opset: Int?

    func validate() throws {
        if let opset, !ONNXExporter.opsets.contains(opset) {
            throw ValidationError("--opset must be between \(ONNXExporter.opsets.lowerBound) and \(ONNXExporter.opsets.upperBound), got \(opset)")
        }
    }

    /// Writes `graph`, naming what was done on stdout.
    func write(_ graph: Graph, summary: String) throws {
        let o = opset ?? min(max(graph.opset, ONNXExporter.opsets.lowerBound), ONNXExporter.opsets.upperBound)
        try ONNXExporter.write(graph, to: output, opset: o, overwrite: force)
        print("\(summary)\nwrote \(output) (\(graph.nodes.count) nodes, \(grouped(graph.parameterCount)) parameters, opset \(o))")
    }
}

/// "name [1, 512]" for the outputs of a graph.
func describeOutputs(_ g: Graph) -> String {
    g.outputs.map { o in "\(o.name) [\((o.dims ?? []).map(\.description).joined(separator: ", "))]" }.joined(separator: ", ")
}
