import LoupeTensor

extension Graph {
    /// Evaluates every node whose inputs are all known before running (initializers, Constant
    /// nodes, and whatever folded before it) and replaces it by initializers.
    ///
    /// With `inputTypes` (concrete shapes for the graph inputs) this is one sweep of shape
    /// inference and folding together: `Shape` and `Size` of any tensor whose shape is known
    /// fold too, so the Shape → Gather → Unsqueeze → Concat → Reshape chains PyTorch exports
    /// disappear, and every remaining tensor gets its type, which is returned. Nodes whose
    /// inputs exceed `maxElements` are left to run time. Nodes must be in topological order.
    @discardableResult
    public mutating func foldConstants(inputTypes: [String: TensorType]? = nil, ops: OperatorCache? = nil,
                                       maxElements: Int = 1 << 24) throws -> [String: TensorType] {
        let ops = ops ?? OperatorCache(opset: opset, domainOpsets: domainOpsets)
        var types = inputTypes ?? [:]
        for (k, t) in initializers { types[k] = TensorType(t.dtype, t.shape) }
        var kept: [Node] = []
        for node in nodes {
            var values: [Tensor]? = nil
            let isDefaultDomain = node.domain.isEmpty || node.domain == "ai.onnx"
            if isDefaultDomain, node.opType == "Shape" || node.opType == "Size",
               let t = types[node.inputs.first ?? ""] {
                values = [try shapeValue(of: node, t.shape)]
            } else if isDefaultDomain, node.inputs.allSatisfy({ $0.isEmpty || initializers[$0] != nil }) {
                let ins: [Tensor?] = node.inputs.map { $0.isEmpty ? nil : initializers[$0] }
                let inputSize = ins.reduce(0) { $0 + ($1?.count ?? 0) }
                if inputSize <= maxElements {
                    let op = try ops.op(for: node)
                    do {
                        values = try op.forward(ins)
                    } catch let e as LoupeError {
                        throw e.message.hasPrefix(node.label) ? e : e.context(node.label)
                    }
                }
            }
            if let values {
                for (i, name) in node.outputs.enumerated() where !name.isEmpty && i < values.count {
                    initializers[name] = values[i]
                    types[name] = TensorType(values[i].dtype, values[i].shape)
                }
                continue
            }
            kept.append(node)
            guard inputTypes != nil else { continue }
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
        nodes = kept
        return types
    }
}

/// The value a `Shape` (with opset-15 `start`/`end`) or `Size` node yields for a tensor of `shape`.
private func shapeValue(of node: Node, _ shape: [Int]) throws -> Tensor {
    if node.opType == "Size" { return Tensor.scalar(int: Int64(shape.reduce(1, *))) }
    let a = Attributes(node.attributes, owner: node.label)
    let r = shape.count
    func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + r : v, 0), r) }
    let start = clamp(try a.int("start", 0)), end = clamp(try a.int("end", r))
    return Tensor.vector(start < end ? shape[start..<end].map(Int64.init) : [])
}
