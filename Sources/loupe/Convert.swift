import ArgumentParser
import Foundation
import LoupeFormats
import LoupeGraph
import LoupeTensor

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model as an ONNX file at a chosen opset.",
        discussion: """
            Reads any model Loupe opens, folds its constant subgraphs into initializers, drops \
            nodes no output needs, and writes the graph as ONNX at --opset (13 to 21, default \
            13). Nodes from older or newer opsets are rewritten into the target opset's form \
            (Squeeze/Split/Reduce* axes, Clip bounds, Pad pads, Upsample as Resize, ...); an op \
            or attribute the target opset cannot express is an error naming the node. Node \
            names and graph input and output names are kept. The output must end in .onnx and \
            is not overwritten unless --force is given. The same input always gives the same \
            bytes.

            Examples:
              loupe convert model.onnx model-opset17.onnx --opset 17
              loupe convert old-opset9.onnx clean.onnx --force
            """)

    @Argument(help: "The model file to read (.onnx, .h5 or .keras).")
    var model: String

    @Argument(help: "The ONNX file to write (must end in .onnx).")
    var output: String

    @Option(parsing: .unconditional, help: "Opset of the default ONNX domain to write, 13 to 21.")
    var opset: Int = 13

    @Flag(help: "Overwrite the output file if it exists.")
    var force = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard ONNXExporter.opsets.contains(opset) else {
            throw ValidationError("--opset must be between \(ONNXExporter.opsets.lowerBound) and \(ONNXExporter.opsets.upperBound), got \(opset).")
        }
        guard output.lowercased().hasSuffix(".onnx") else {
            throw ValidationError("the output file must end in .onnx, got '\(output)'.")
        }
    }

    func run() throws {
        global.apply()
        try runReportingErrors {
            try ONNXExporter.checkDestination(output, overwrite: force)
            let g = try loadModel(model, config: global.config)
            let simplified: Graph
            do {
                simplified = try ONNXExporter.simplified(g)
            } catch let e as LoupeError {
                throw e.context(model)
            }
            try ONNXExporter.write(simplified, to: output, opset: opset, overwrite: force)
            let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
            print("\(output): opset \(opset), \(simplified.nodes.count) nodes, \(simplified.parameterCount) parameters, \(size) bytes (from opset \(g.opset))")
        }
    }
}
