import ArgumentParser
import Foundation
import LoupeFormats
import LoupeGraph
import LoupeTensor

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model's layers, shapes, parameter count and multiply-accumulates.",
        discussion: """
            Prints one row per node (name, op, output shape, parameters) after folding the \
            constant shape computations that exporters emit, then the totals. Symbolic \
            dimensions such as the batch size count as 1 unless --input-shape sets them. \
            MACs count Conv, ConvTranspose, Gemm and MatMul, as the usual FLOP counters do.

            Examples:
              loupe inspect resnet18.onnx
              loupe inspect model.onnx --input-shape input=8x3x224x224 --json
            """)

    @Argument(help: "The model file (.onnx, .h5 or .keras).")
    var model: String

    @Flag(help: "Print a JSON document (see Schemas/inspect.schema.json) instead of a table.")
    var json = false

    @Option(name: .customLong("input-shape"), help: "Shape of an input, as NAME=1x3x224x224. Repeat for several inputs.")
    var inputShapes: [String] = []

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        for s in inputShapes { _ = try parseShapeAssignment(s) }
    }

    func run() throws {
        global.apply()
        try runReportingErrors {
            let g = try loadModel(model, config: global.config)
            let overrides = Dictionary(try inputShapes.map(parseShapeAssignment), uniquingKeysWith: { $1 })
            let summary: GraphSummary
            do {
                summary = try GraphSummary(graph: g, inputTypes: try ModelFile.inputTypes(g, overrides: overrides))
            } catch let e as LoupeError {
                throw e.context(model)
            }
            if json {
                try printJSON(InspectDocument(model: model, graph: g, summary: summary))
            } else {
                printTable(g, summary)
            }
        }
    }

    func printTable(_ g: Graph, _ s: GraphSummary) {
        print("model: \(model)")
        if let p = g.metadata["producer"], !p.isEmpty { print("producer: \(p)") }
        print("opset: \(g.opset)")
        for (n, t) in zip(s.inputNames, s.inputs) { print("input:  \(n) \(t)") }
        for (n, t) in zip(s.outputNames, s.outputs) { print("output: \(n) \(t)") }
        print("")
        // Keras models: the layer class each node came from (see KerasGraphBuilder).
        let classes = kerasClasses(g)
        let rows = s.nodes.map { n in
            [n.name, n.opType] + (classes.isEmpty ? [] : [classes[n.name] ?? ""]) +
            [n.outputTypes.map { describe($0.shape) }.joined(separator: " "),
             n.parameters == 0 ? "" : grouped(n.parameters), n.macs == 0 ? "" : grouped(n.macs)]
        }
        let header = ["node", "op"] + (classes.isEmpty ? [] : ["keras class"]) + ["output shape", "params", "MACs"]
        let widths = header.indices.map { c in min(60, ([header] + rows).map { $0[c].count }.max() ?? 0) }
        func line(_ r: [String]) -> String {
            r.enumerated().map { c, v in
                let v = v.count > widths[c] ? "…" + v.suffix(widths[c] - 1) : v
                return c >= header.count - 2 ? String(repeating: " ", count: widths[c] - v.count) + v : v.padding(toLength: widths[c], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        print(line(header))
        print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
        for r in rows { print(line(r)) }
        print("")
        print("nodes: \(s.nodes.count) (\(s.foldedNodes) constant nodes folded)")
        print("parameters: \(grouped(s.parameters))")
        print("MACs: \(grouped(s.macs)) (\(String(format: "%.2f", Double(s.macs) / 1e9)) G)")
    }
}

/// Node name → Keras layer class, from the `loupe.keras_class` attribute the Keras importer sets.
func kerasClasses(_ g: Graph) -> [String: String] {
    var m: [String: String] = [:]
    for n in g.nodes {
        if case .string(let c)? = n.attributes["loupe.keras_class"] { m[n.name] = c }
    }
    return m
}

func grouped(_ n: Int) -> String {
    let s = String(n)
    var out = ""
    for (i, c) in s.reversed().enumerated() {
        if i > 0 && i % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return String(out.reversed())
}

/// The `inspect --json` document; Schemas/inspect.schema.json describes it.
struct InspectDocument: Encodable {
    struct Value: Encodable {
        var name: String
        var shape: [Int]
        var dtype: String
    }
    struct NodeRow: Encodable {
        var name: String
        var op: String
        var inputs: [String]
        var outputs: [String]
        var output_shapes: [[Int]]
        var parameters: Int
        var macs: Int
        /// The Keras layer class, for models imported from Keras.
        var keras_class: String?
    }
    var model: String
    var opset: Int
    var producer: String
    var inputs: [Value]
    var outputs: [Value]
    var nodes: [NodeRow]
    var parameters: Int
    var macs: Int

    init(model: String, graph: Graph, summary s: GraphSummary) {
        self.model = model
        opset = graph.opset
        producer = graph.metadata["producer"] ?? ""
        inputs = zip(s.inputNames, s.inputs).map { Value(name: $0, shape: $1.shape, dtype: $1.dtype.name) }
        outputs = zip(s.outputNames, s.outputs).map { Value(name: $0, shape: $1.shape, dtype: $1.dtype.name) }
        let classes = kerasClasses(graph)
        nodes = s.nodes.map {
            NodeRow(name: $0.name, op: $0.opType, inputs: $0.inputs, outputs: $0.outputs,
                    output_shapes: $0.outputTypes.map(\.shape), parameters: $0.parameters, macs: $0.macs,
                    keras_class: classes[$0.name])
        }
        parameters = s.parameters
        macs = s.macs
    }
}
