import ArgumentParser
import Foundation
import LoupeFormats
import LoupeGraph
import LoupeRender
import LoupeTensor

struct Filters: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw a convolution layer's filters as a picture grid.",
        discussion: """
            By default the first convolution in execution order. Filters with three input \
            channels are drawn in colour, one tile each; others as one gray tile per input \
            channel, a row per filter. Each tile is normalised to its own minimum and maximum \
            and enlarged with nearest-neighbour scaling so small kernels stay visible.

            Examples:
              loupe filters resnet18.onnx -o filters.png
              loupe filters model.onnx --layer /layer1/layer1.0/conv1/Conv -o l1.png --save-npy w.npy
            """)

    @Argument(help: "The model file (.onnx, .h5 or .keras).")
    var model: String

    @Option(help: "A Conv node by name (as `loupe inspect` lists it) or by its output tensor name. Default: the first Conv.")
    var layer: String?

    @Option(name: .shortAndLong, help: "Where to write the PNG.")
    var output: String

    @Option(name: .customLong("save-npy"), help: "Also write the raw weights [C_out, C_in, kH, kW] as float32 .npy.")
    var saveNpy: String?

    @Flag(help: "Overwrite existing output files.")
    var force = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        global.apply()
        try runReportingErrors {
            var g = try loadModel(model, config: global.config)
            try g.sortTopologically()
            // Fold constants so weights produced by in-graph computation are available too.
            try g.foldConstants()
            let convs = g.nodes.filter { $0.opType == "Conv" || $0.opType == "ConvTranspose" }
            guard !convs.isEmpty else { throw LoupeError.invalid("\(model) has no Conv layer") }
            let node: Node
            if let layer {
                // A layer imported as several nodes (Keras `conv2d_7` → `conv2d_7/conv` + `conv2d_7`)
                // is found by its name too: its first convolution.
                guard let n = convs.first(where: { $0.name == layer || $0.outputs.contains(layer) })
                        ?? convs.first(where: { $0.name.hasPrefix(layer + "/") }) else {
                    let names = convs.prefix(40).map(\.name).joined(separator: ", ")
                    throw LoupeError(.invalidArgument, "no Conv layer named '\(layer)'; convolution layers: \(names)\(convs.count > 40 ? ", …" : "")")
                }
                node = n
            } else {
                node = convs[0]
            }
            guard node.inputs.count > 1, let w = g.initializers[node.inputs[1]] else {
                throw LoupeError.unsupported("\(node.label): its weights are computed at run time, not stored in the file")
            }
            try checkWritable(output, force: force)
            if let saveNpy { try checkWritable(saveNpy, force: force) }
            let image = try FilterGrid.render(w)
            try ImageIO.writePNG(image, path: output)
            if let saveNpy { try NPY.write(w, path: saveNpy) }
            print("\(node.name) (\(node.opType)) weights \(describe(w.shape)) -> \(output) (\(image.width)x\(image.height))")
        }
    }
}
