import LoupeTensor

/// Builds operators for graph nodes once and caches them by node name.
public final class OperatorCache: @unchecked Sendable {
    private var cache: [String: any Operator] = [:]
    public let opset: Int
    public init(opset: Int) { self.opset = opset }

    public func op(for node: Node) throws -> any Operator {
        if let o = cache[node.name] { return o }
        let o = try OperatorRegistry.make(node, opset: opset)
        cache[node.name] = o
        return o
    }
}

extension Graph {
    /// The type of every tensor, given concrete types for the graph inputs (nodes must be in
    /// topological order). Errors name the node, its op and its input types.
    public func inferTypes(_ inputTypes: [String: TensorType], ops: OperatorCache? = nil) throws -> [String: TensorType] {
        let ops = ops ?? OperatorCache(opset: opset)
        var types = inputTypes
        for (k, t) in initializers { types[k] = TensorType(t.dtype, t.shape) }
        for node in nodes {
            let op = try ops.op(for: node)
            let ins: [TensorType?] = node.inputs.map { $0.isEmpty ? nil : types[$0] }
            for (i, name) in node.inputs.enumerated() where !name.isEmpty && ins[i] == nil {
                throw LoupeError.invalid("\(node.label): input '\(name)' has no known type")
            }
            let consts: [Tensor?] = node.inputs.map { $0.isEmpty ? nil : initializers[$0] }
            let outs: [TensorType]
            do {
                outs = try op.infer(ins, constants: consts)
            } catch let e as LoupeError {
                let shapes = ins.map { $0?.description ?? "none" }.joined(separator: ", ")
                throw LoupeError(e.kind, "\(node.label) with inputs (\(shapes)): \(e.message)")
            }
            for (i, name) in node.outputs.enumerated() where !name.isEmpty && i < outs.count {
                types[name] = outs[i]
            }
        }
        return types
    }
}
