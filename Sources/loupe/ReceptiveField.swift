import ArgumentParser
import Foundation
import LoupeExplain
import LoupeFormats
import LoupeGraph
import LoupeSurgery
import LoupeTensor

struct ReceptiveFieldCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receptive-field",
        abstract: "Show the exact receptive field of a layer: size, stride and offset per spatial axis.",
        discussion: """
            The field of one unit of the layer, unit (0, 0), in pixels of the model's input, \
            over every path through the graph (residual additions, concatenations, branches): \
            size is its extent, not clipped to the input; stride the distance between the \
            fields of neighbouring units; offset the input coordinate of its centre (pixel k \
            at coordinate k, so it can be negative or end in .5). After a global pool, or a \
            flatten into a fully connected layer, a unit depends on the whole input: the \
            field is not finite and the command says so (exit status 0). Without --layer, \
            one row per layer. Channels-last (Keras) models are measured in H and W all the \
            same. See docs/receptive-field.md.

            Examples:
              loupe receptive-field resnet18.onnx --layer /layer4/layer4.1/relu_1/Relu
              loupe receptive-field model.onnx --layer conv5 --json
              loupe receptive-field model.onnx
            """)

    @Argument(help: "The model file (.onnx, .h5 or .keras).")
    var model: String

    @Option(help: "The layer: a node name as `loupe inspect` lists it, or a tensor name. Without it, every layer is listed.")
    var layer: String?

    @Flag(help: "Print JSON: {layer, op, shape, size: [h, w], stride: [h, w], offset: [h, w], finite, uniform}.")
    var json = false

    @Option(name: .customLong("input-shape"), help: "The input's shape, as 1x3x224x224 (in the model's own layout), when it has dynamic dimensions. Fields depend on it only through SAME padding and size-given resizes.")
    var inputShape: String?

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if let inputShape { _ = try parseShapeAssignment(inputShape) }
    }

    func run() throws {
        global.apply()
        try runReportingErrors {
            var g = try loadModel(model, config: global.config)
            do {
                let analysis = try Self.analysis(&g, inputShape: inputShape.map { try parseShapeAssignment($0).1 })
                if let layer {
                    let tensor = try analysis.graph.resolveTensor(layer, argument: "`layer`")
                    guard let row = try Row(analysis, tensor: tensor) else { return }
                    if json { try printJSON(row) } else { print(row.sentence) }
                } else {
                    let rows = try analysis.graph.nodes.compactMap { n -> Row? in
                        guard let o = n.outputs.first(where: { !$0.isEmpty }), analysis.types[o] != nil else { return nil }
                        return try Row(analysis, tensor: o, dependsOnInput: true)
                    }
                    if json { try printJSON(rows) } else { Self.printTable(rows) }
                }
            } catch let e as LoupeError {
                throw e.context(model)
            }
        }
    }

    /// The analysis on the NCHW view of the model, with the input's dynamic sizes given or refused.
    static func analysis(_ g: inout Graph, inputShape: [Int]?) throws -> ReceptiveFieldAnalysis {
        let firstInputs = Set(g.nodes.compactMap(\.inputs.first))
        guard let i = g.inputs.firstIndex(where: { firstInputs.contains($0.name) && ($0.dims?.count ?? 0) >= 3 }) else {
            throw LoupeError(.invalidArgument, "the model has no image input ([N, C, H, W] or [N, H, W, C])")
        }
        if let s = inputShape {
            g.inputs[i].dims = s.map { .fixed($0) }
        } else if let dims = g.inputs[i].dims, dims.dropFirst().contains(where: { $0.value == nil }) {
            throw LoupeError(.invalidArgument, "the input '\(g.inputs[i].name)' has dynamic dimensions [\(dims.map(\.description).joined(separator: ", "))]; give its size with --input-shape, e.g. 1x3x224x224")
        }
        let name = g.inputs[i].name
        g = g.withNCHWImageInput()
        let types = try ModelFile.inputTypes(g)
        return try ReceptiveFieldAnalysis(graph: g, inputTypes: types, input: name)
    }

    static func printTable(_ rows: [Row]) {
        let nameWidth = min(60, rows.map(\.layer.count).max() ?? 5)
        print("layer".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  op                  output              size       stride     offset")
        for r in rows {
            let shape = describe(r.shape)
            var line = r.layer.padding(toLength: max(nameWidth, r.layer.count), withPad: " ", startingAt: 0) + "  "
            line += r.op.padding(toLength: 18, withPad: " ", startingAt: 0) + "  " + shape.padding(toLength: 18, withPad: " ", startingAt: 0) + "  "
            if r.finite {
                line += r.sizeText.padding(toLength: 9, withPad: " ", startingAt: 0) + "  " + r.strideText.padding(toLength: 9, withPad: " ", startingAt: 0) + "  " + r.offsetText
            } else {
                line += "not finite (\(r.reason ?? ""))"
            }
            print(line)
        }
    }

    /// One layer's field, as printed and as JSON.
    struct Row: Encodable {
        var layer: String
        var tensor: String
        var op: String
        var shape: [Int]
        var size: [Int?]
        var stride: [Double?]
        var offset: [Double?]
        var finite: Bool
        var uniform: Bool
        var reason: String?

        /// Throws for a tensor that does not depend on the input, unless `dependsOnInput`
        /// (the table) asks to skip such rows — then it returns nil.
        init?(_ a: ReceptiveFieldAnalysis, tensor: String, dependsOnInput: Bool = false) throws {
            let node = a.graph.nodes.first { $0.outputs.contains(tensor) }
            layer = node?.name ?? tensor
            self.tensor = tensor
            op = node?.opType ?? "input"
            shape = a.types[tensor]?.shape ?? []
            let f: ReceptiveField
            do {
                f = try a.field(of: tensor)
            } catch let e as LoupeError where dependsOnInput && e.message.contains("does not depend on the input") {
                return nil
            }
            size = f.axes.map { $0?.size }
            stride = f.axes.map { $0?.stride }
            offset = f.axes.map { $0?.offset }
            finite = f.isFinite
            uniform = f.uniform
            if !finite {
                let names = ["H", "W", "D"]
                let open = f.axes.indices.filter { f.axes[$0] == nil }.map { $0 < 2 && f.axes.count == 2 ? names[$0] : "axis \($0)" }
                reason = "each unit depends on the whole input along \(open.joined(separator: " and ")) (a global pool, a reduction or a fully connected layer on the way)"
            } else if !uniform {
                reason = "the field's size differs between units (branches with different strides meet); these are unit (0, 0)'s"
            }
        }

        static func number(_ v: Double?) -> String {
            guard let v else { return "∞" }
            if v == v.rounded() { return String(Int(v)) }
            return String(format: "%.4f", v).replacingOccurrences(of: "0+$", with: "", options: .regularExpression)
        }
        var sizeText: String { size.map { $0.map(String.init) ?? "∞" }.joined(separator: "x") }
        var strideText: String { stride.map(Self.number).joined(separator: "x") }
        var offsetText: String { "(" + offset.map(Self.number).joined(separator: ", ") + ")" }

        var sentence: String {
            let head = "layer \(layer) (\(op), \(describe(shape)))"
            guard size.contains(where: { $0 != nil }) else { return "\(head): no finite receptive field: \(reason ?? "")" }
            var s = "\(head): size \(sizeText), stride \(strideText), offset \(offsetText)"
            if let reason { s += " (\(reason))" }
            return s
        }
    }
}
