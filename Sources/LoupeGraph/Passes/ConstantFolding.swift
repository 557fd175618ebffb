import LoupeTensor

extension Graph {
    /// Evaluates every node whose inputs are all known before running, and replaces it by
    /// initializers. With `types` (from `inferTypes` for concrete input shapes), `Shape` and
    /// `Size` of any tensor with a known shape fold too, so that the Shape → Gather →
    /// Unsqueeze → Concat → Reshape chains PyTorch exports disappear. Nodes whose inputs
    /// exceed `maxElements` are left to run time. Returns how many nodes were folded.
    @discardableResult
    public mutating func foldConstants(types: [String: TensorType]? = nil, ops: OperatorCache? = nil,
                                       maxElements: Int = 1 << 24) throws -> Int {
        let ops = ops ?? OperatorCache(opset: opset)
        var kept: [Node] = []
        var folded = 0
        for node in nodes {
            var values: [Tensor]? = nil
            let isDefaultDomain = node.domain.isEmpty || node.domain == "ai.onnx"
            if isDefaultDomain, let types, node.opType == "Shape" || node.opType == "Size",
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
                }
                folded += 1
            } else {
                kept.append(node)
            }
        }
        nodes = kept
        return folded
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
