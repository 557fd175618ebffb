import LoupeTensor

/// One row of `loupe inspect`: a node with its output types, parameters and MACs.
public struct NodeSummary: Sendable {
    public var name: String
    public var opType: String
    public var inputs: [String]
    public var outputs: [String]
    public var outputTypes: [TensorType]
    /// Elements of the float initializers this node reads directly (weights, biases, BN stats).
    public var parameters: Int
    /// Multiply-accumulates for one forward pass at the summarised input shape.
    public var macs: Int
}

/// A model's structure at concrete input shapes: the graph after constant folding (so the
/// shape-computation chains exporters emit are gone) with types, parameters and MACs.
public struct GraphSummary: Sendable {
    public var inputs: [TensorType]
    public var inputNames: [String]
    public var outputs: [TensorType]
    public var outputNames: [String]
    public var nodes: [NodeSummary]
    public var parameters: Int
    public var macs: Int
    public var foldedNodes: Int

    /// Summarises `graph` with the given input types (symbolic dimensions resolved by the caller).
    public init(graph: Graph, inputTypes: [String: TensorType]) throws {
        var g = graph
        try g.sortTopologically()
        let ops = OperatorCache(opset: g.opset, domainOpsets: g.domainOpsets)
        let before = g.nodes.count
        let types = try g.foldConstants(inputTypes: inputTypes, ops: ops)
        g.eliminateDeadNodes()
        foldedNodes = before - g.nodes.count
        inputNames = g.inputs.map(\.name)
        inputs = inputNames.map { types[$0]! }
        outputNames = g.outputs.map(\.name)
        outputs = try outputNames.map {
            guard let t = types[$0] else { throw LoupeError.invalid("graph output '\($0)' has no type") }
            return t
        }
        var counted = Set<String>()
        nodes = g.nodes.map { n in
            var params = 0
            for i in n.inputs where !i.isEmpty {
                if let w = g.initializers[i], w.isFloat, counted.insert(i).inserted { params += w.count }
            }
            let ins = n.inputs.map { $0.isEmpty ? nil : types[$0] }
            let outs = n.outputs.compactMap { types[$0] }
            return NodeSummary(name: n.name, opType: n.opType, inputs: n.inputs, outputs: n.outputs,
                               outputTypes: outs, parameters: params,
                               macs: GraphSummary.macs(n, ins, outs))
        }
        parameters = g.parameterCount
        macs = nodes.reduce(0) { $0 + $1.macs }
    }

    /// MACs of the ops that dominate CNN cost (Conv, ConvTranspose, Gemm, MatMul); other ops
    /// count 0, as in the usual FLOP counters (ptflops, thop).
    static func macs(_ n: Node, _ ins: [TensorType?], _ outs: [TensorType]) -> Int {
        guard let out = outs.first else { return 0 }
        let outCount = out.shape.reduce(1, *)
        switch n.opType {
        case "Conv":
            guard ins.count > 1, let w = ins[1], w.shape.count >= 2 else { return 0 }
            return outCount * w.shape.dropFirst().reduce(1, *)
        case "ConvTranspose":
            guard let x = ins.first ?? nil, ins.count > 1, let w = ins[1], w.shape.count >= 2 else { return 0 }
            return x.shape.reduce(1, *) * w.shape.dropFirst().reduce(1, *)
        case "Gemm":
            guard let a = ins.first ?? nil, a.shape.count == 2 else { return 0 }
            let transA = (try? Attributes(n.attributes, owner: n.label).int("transA", 0)) ?? 0
            return outCount * (transA == 0 ? a.shape[1] : a.shape[0])
        case "MatMul":
            guard let a = ins.first ?? nil, let k = a.shape.last else { return 0 }
            return outCount * k
        default:
            return 0
        }
    }
}
