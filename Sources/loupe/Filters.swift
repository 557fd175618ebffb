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
            let g = try loadModel(model, config: global.config)
            let (node, w): (Node, Tensor)
            do {
                (node, w) = try g.convolutionWeights(layer: layer)
            } catch let e as LoupeError where e.kind == .invalidModel {
                throw e.context(model)
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
