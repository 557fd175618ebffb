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
            constant shape computations that exporters emit, then the totals. A dynamic \
            batch size (the first dimension) counts as 1. Other dynamic dimensions, such as \
            H and W in [N, 3, H, W] or the -1s Paddle2ONNX writes, stay open: sizes that \
            depend on them print by name (H) or as ?, and so do MAC counts, unless \
            --input-shape gives the input's full shape. MACs count Conv, ConvTranspose, Gemm \
            and MatMul, as the usual FLOP counters do.

            Examples:
              loupe inspect resnet18.onnx
              loupe inspect model.onnx --input-shape input=8x3x224x224 --json
              loupe inspect fully-convolutional.onnx --input-shape 1x3x512x512
            """)

    @Argument(help: "The model file (.onnx, .h5 or .keras).")
    var model: String

    @Flag(help: "Print a JSON document (see Schemas/inspect.schema.json) instead of a table.")
    var json = false

    @Option(name: .customLong("input-shape"), help: "Shape of an input, as NAME=1x3x224x224, or 1x3x224x224 for a model with one input. Sets dynamic dimensions to concrete sizes. Repeat for several inputs.")
    var inputShapes: [String] = []

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        for s in inputShapes { _ = try parseShapeAssignment(s) }
    }

    func run() throws {
        global.apply()
        try runReportingErrors {
            let g = try loadModel(model, config: global.config)
            let overrides = try shapeOverrides(g)
            let types = try ModelFile.inputTypes(g, overrides: overrides)
            let dynamic = g.dynamicDimensions(except: Set(overrides.keys))
            let summary: DynamicGraphSummary
            do {
                summary = dynamic.isEmpty
                    ? DynamicGraphSummary(try GraphSummary(graph: g, inputTypes: types))
                    : try DynamicGraphSummary(graph: g, inputTypes: types, dynamic: dynamic)
            } catch let e as LoupeError where !dynamic.isEmpty {
                throw LoupeError(e.kind, "\(e.message); give the real sizes with --input-shape, e.g. \(inputShapeHint(g, dynamic))").context(model)
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

    /// The --input-shape values by input name; a value without NAME= is the only input's.
    func shapeOverrides(_ g: Graph) throws -> [String: [Int]] {
        var overrides: [String: [Int]] = [:]
        for (name, dims) in try inputShapes.map(parseShapeAssignment) {
            if name.isEmpty {
                guard g.inputs.count == 1 else {
                    throw LoupeError(.invalidArgument, "--input-shape \(dims.map(String.init).joined(separator: "x")) needs NAME= for a model with \(g.inputs.count) inputs (\(g.inputs.map(\.name).joined(separator: ", ")))")
                }
                overrides[g.inputs[0].name] = dims
            } else {
                overrides[name] = dims
            }
        }
        return overrides
    }

    /// `--input-shape input=1x3x224x224` for the first input with dynamic dimensions: its
    /// declared sizes, 1 for the batch and 224 for each dynamic one.
    func inputShapeHint(_ g: Graph, _ dynamic: [DynamicDimension]) -> String {
        guard let input = g.inputs.first(where: { $0.name == dynamic.first?.input }) else { return "--input-shape" }
        let dims = (input.dims ?? []).enumerated().map { axis, d in d.value ?? (axis == 0 ? 1 : 224) }
        return "--input-shape \(input.name)=\(dims.map(String.init).joined(separator: "x"))"
    }

    func printTable(_ g: Graph, _ s: DynamicGraphSummary) {
        print("model: \(model)")
        if let p = g.metadata["producer"], !p.isEmpty { print("producer: \(p)") }
        print("opset: \(g.opset)")
        for v in s.inputs { print("input:  \(v.name) \(describeType(v))") }
        for v in s.outputs { print("output: \(v.name) \(describeType(v))") }
        print("")
        // Keras models: the layer class each node came from (see KerasGraphBuilder).
        let classes = kerasClasses(g)
        let rows = s.nodes.map { n in
            [n.name, n.opType] + (classes.isEmpty ? [] : [classes[n.name] ?? ""]) +
            [n.outputDims.map(describeDims).joined(separator: " "),
             n.parameters == 0 ? "" : grouped(n.parameters), n.macs.map { $0 == 0 ? "" : grouped($0) } ?? "?"]
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
        if let macs = s.macs {
            print("MACs: \(grouped(macs)) (\(String(format: "%.2f", Double(macs) / 1e9)) G)")
        } else {
            print("MACs: ? (\(g.describe(s.dynamic)); --input-shape sets them, e.g. \(inputShapeHint(g, s.dynamic)))")
        }
    }
}

/// `float32[1, 3, H, W]`.
func describeType(_ v: ValueInfo) -> String { v.dtype.name + describeDims(v.dims ?? []) }

/// `[1, 3, H, W]`, with `?` for an unknown size.
func describeDims(_ dims: [Dim]) -> String { "[" + dims.map(\.description).joined(separator: ", ") + "]" }

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

/// The `inspect --json` document; Schemas/inspect.schema.json describes it. Sizes that depend
/// on dynamic input dimensions are null, and so are MAC counts that do.
struct InspectDocument: Encodable {
    struct Value: Encodable {
        var name: String
        var shape: [Int?]
        var dtype: String
    }
    struct NodeRow: Encodable {
        var name: String
        var op: String
        var inputs: [String]
        var outputs: [String]
        var output_shapes: [[Int?]]
        var parameters: Int
        var macs: Nullable<Int>
        /// The Keras layer class, for models imported from Keras.
        var keras_class: String?
    }
    struct Dynamic: Encodable {
        var input: String
        var axis: Int
        /// The file's name for the dimension; "" when it has none.
        var name: String
    }
    var model: String
    var opset: Int
    var producer: String
    var inputs: [Value]
    var outputs: [Value]
    var nodes: [NodeRow]
    var parameters: Int
    var macs: Nullable<Int>
    var dynamic_dimensions: [Dynamic]

    init(model: String, graph: Graph, summary s: DynamicGraphSummary) {
        self.model = model
        opset = graph.opset
        producer = graph.metadata["producer"] ?? ""
        inputs = s.inputs.map { Value(name: $0.name, shape: ($0.dims ?? []).map(\.value), dtype: $0.dtype.name) }
        outputs = s.outputs.map { Value(name: $0.name, shape: ($0.dims ?? []).map(\.value), dtype: $0.dtype.name) }
        let classes = kerasClasses(graph)
        nodes = s.nodes.map {
            NodeRow(name: $0.name, op: $0.opType, inputs: $0.inputs, outputs: $0.outputs,
                    output_shapes: $0.outputDims.map { $0.map(\.value) }, parameters: $0.parameters,
                    macs: Nullable($0.macs), keras_class: classes[$0.name])
        }
        parameters = s.parameters
        macs = Nullable(s.macs)
        dynamic_dimensions = s.dynamic.map { Dynamic(input: $0.input, axis: $0.axis, name: $0.symbol) }
    }
}

/// An optional that encodes as JSON null instead of leaving its key out.
struct Nullable<T: Encodable>: Encodable {
    var value: T?
    init(_ value: T?) { self.value = value }
    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if let value { try c.encode(value) } else { try c.encodeNil() }
    }
}
