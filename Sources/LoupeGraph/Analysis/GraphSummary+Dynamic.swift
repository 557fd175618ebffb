import LoupeTensor

/// `GraphSummary` for a graph whose inputs leave sizes dynamic (see `DynamicDimension`):
/// every dimension and MAC count that does not depend on them, and the others marked.
///
/// Shapes are worked out twice, with the k-th distinct dynamic size set to 224 + 32k and
/// then to 320 + 32k (multiples of 32, so that strided and pooled networks divide evenly).
/// A dimension equal in both runs does not depend on the dynamic sizes and is shown as it
/// is; one equal to a named size's value in both runs is that size and keeps its name (`H`);
/// any other is unknown (`Dim.symbol("")`, printed `?`). A MAC count that differs between
/// the runs is unknown (`nil`). Two runs cannot prove that a size is constant in general,
/// but the size arithmetic of CNNs (convolution, pooling, resizing by a scale) gives
/// different results at 224 and 320.
public struct DynamicGraphSummary: Sendable {
    public struct Row: Sendable {
        public var name: String
        public var opType: String
        public var inputs: [String]
        public var outputs: [String]
        public var outputDims: [[Dim]]
        public var parameters: Int
        /// `nil` when the count depends on the dynamic sizes.
        public var macs: Int?
    }

    /// Inputs and outputs with the batch size as 1 and the dynamic sizes as symbols.
    public var inputs: [ValueInfo]
    public var outputs: [ValueInfo]
    public var nodes: [Row]
    public var parameters: Int
    /// `nil` when the total depends on the dynamic sizes.
    public var macs: Int?
    public var foldedNodes: Int
    public var dynamic: [DynamicDimension]

    static let probes = [224, 320]

    /// Summarises `graph` with `inputTypes` (concrete types for every input; the axes named
    /// in `dynamic` are overwritten by the probe sizes). Throws, naming the dynamic
    /// dimensions, when the shapes cannot be worked out at the probe sizes (a network that
    /// flattens its feature map into a fixed-size Gemm, say, needs its real input size).
    public init(graph: Graph, inputTypes: [String: TensorType], dynamic: [DynamicDimension]) throws {
        var keys: [String] = []
        func key(_ d: DynamicDimension) -> String { d.symbol.isEmpty ? "\u{0}\(d.input)\u{0}\(d.axis)" : d.symbol }
        for d in dynamic where !keys.contains(key(d)) { keys.append(key(d)) }
        func size(_ d: DynamicDimension, _ run: Int) -> Int { Self.probes[run] + 32 * keys.firstIndex(of: key(d))! }

        var runs: [GraphSummary] = []
        for run in Self.probes.indices {
            var types = inputTypes
            for d in dynamic {
                guard let t = types[d.input], d.axis < t.shape.count else {
                    throw LoupeError(.invalidArgument, "no type of rank above \(d.axis) given for input '\(d.input)'")
                }
                types[d.input]!.shape[d.axis] = size(d, run)
            }
            do {
                runs.append(try GraphSummary(graph: graph, inputTypes: types))
            } catch let e as LoupeError {
                let tried = dynamic.map { "\($0.symbol.isEmpty ? "'\($0.input)' axis \($0.axis)" : $0.symbol) = \(size($0, run))" }
                throw LoupeError(e.kind, "\(graph.describe(dynamic)), and its shapes cannot be worked out without the real sizes (tried \(tried.joined(separator: ", ")): \(e.message))")
            }
        }
        let (a, b) = (runs[0], runs[1])

        // What each pair of sizes from the two runs stands for.
        var named: [[Int]: String] = [:]
        for d in dynamic where !d.symbol.isEmpty { named[[size(d, 0), size(d, 1)]] = d.symbol }
        func merge(_ x: [Int], _ y: [Int]?) -> [Dim] {
            guard let y, y.count == x.count else { return x.map { _ in .symbol("") } }
            return zip(x, y).map { p, q in p == q ? .fixed(p) : .symbol(named[[p, q]] ?? "") }
        }
        func values(_ names: [String], _ x: [TensorType], _ y: [TensorType]) -> [ValueInfo] {
            names.indices.map { ValueInfo(name: names[$0], dtype: x[$0].dtype, dims: merge(x[$0].shape, y[$0].shape)) }
        }
        inputs = values(a.inputNames, a.inputs, b.inputs)
        outputs = values(a.outputNames, a.outputs, b.outputs)
        let sameNodes = a.nodes.map(\.name) == b.nodes.map(\.name)
        nodes = a.nodes.indices.map { i in
            let n = a.nodes[i], m: NodeSummary? = sameNodes ? b.nodes[i] : nil
            return Row(name: n.name, opType: n.opType, inputs: n.inputs, outputs: n.outputs,
                       outputDims: n.outputTypes.indices.map { j in
                           merge(n.outputTypes[j].shape, m.flatMap { j < $0.outputTypes.count ? $0.outputTypes[j].shape : nil })
                       },
                       parameters: n.parameters, macs: n.macs == m?.macs ? n.macs : nil)
        }
        parameters = a.parameters
        macs = a.macs == b.macs ? a.macs : nil
        foldedNodes = a.foldedNodes
        self.dynamic = dynamic
    }

    /// The same summary for a graph at concrete input shapes: every size known.
    public init(_ s: GraphSummary) {
        func values(_ names: [String], _ types: [TensorType]) -> [ValueInfo] {
            zip(names, types).map { ValueInfo(name: $0, dtype: $1.dtype, dims: $1.shape.map(Dim.fixed)) }
        }
        inputs = values(s.inputNames, s.inputs)
        outputs = values(s.outputNames, s.outputs)
        nodes = s.nodes.map {
            Row(name: $0.name, opType: $0.opType, inputs: $0.inputs, outputs: $0.outputs,
                outputDims: $0.outputTypes.map { $0.shape.map(Dim.fixed) }, parameters: $0.parameters, macs: $0.macs)
        }
        parameters = s.parameters
        macs = s.macs
        foldedNodes = s.foldedNodes
        dynamic = []
    }
}
