import LoupeTensor

/// The internal attribute that marks a Conv whose fourth input is added to its output before
/// its fused activation: y = clip(conv(x, W) + B + addend) (a residual connection).
public let fusedAddAttribute = "loupe.fused_add"

extension Graph {
    /// Fuses each `Add(conv, other)` into the Conv that computes one of its operands, when
    /// that Conv's output has no other reader, is not a graph output and is not in `keep`,
    /// and `other` has the Conv output's shape (no broadcasting) and dtype float32. The Conv
    /// moves to the Add's place in the order (where `other` is computed), takes `other` as a
    /// fourth input and the Add's output name; with oneDNN the addition is the convolution's
    /// `sum` post-op (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016:
    /// the identity shortcut y = F(x) + x). Run before `fuseActivations`, so that the Relu
    /// after the Add then fuses into the same Conv. Inference plans only, like
    /// `fuseActivations`. `types` are the plan's tensor types. Returns how many were fused.
    @discardableResult
    public mutating func fuseResidualAdds(keeping keep: Set<String>, types: [String: TensorType]) -> Int {
        var readers: [String: Int] = [:]
        for n in nodes { for i in n.inputs where !i.isEmpty { readers[i, default: 0] += 1 } }
        let protected = Set(outputs.map(\.name)).union(keep)
        let producer = producers()
        var removed = Set<Int>()
        for (ai, add) in nodes.enumerated() where add.opType == "Add" && (add.domain.isEmpty || add.domain == "ai.onnx") {
            guard add.inputs.count == 2, add.outputs.count == 1, add.attributes[fusedClipAttribute] == nil,
                  add.inputs[0] != add.inputs[1] else { continue }
            for k in 0..<2 {
                let a = add.inputs[k], other = add.inputs[1 - k]
                guard let ci = producer[a], !removed.contains(ci) else { continue }
                let conv = nodes[ci]
                guard conv.opType == "Conv", conv.domain.isEmpty || conv.domain == "ai.onnx", conv.outputs.count == 1,
                      conv.attributes[fusedClipAttribute] == nil, conv.attributes[fusedAddAttribute] == nil,
                      conv.inputs.count >= 2, conv.inputs.count <= 3,
                      readers[a] == 1, !protected.contains(a),
                      let ta = types[a], let to = types[other], ta == to, ta.dtype == .float32 else { continue }
                var fused = conv
                fused.inputs = [conv.inputs[0], conv.inputs[1], conv.inputs.count > 2 ? conv.inputs[2] : "", other]
                fused.outputs = add.outputs
                fused.attributes[fusedAddAttribute] = .int(1)
                nodes[ai] = fused
                removed.insert(ci)
                break
            }
        }
        nodes = nodes.indices.filter { !removed.contains($0) }.map { nodes[$0] }
        return removed.count
    }
}

/// True when a node carries a fused residual addend (`fusedAddAttribute`).
func hasFusedAdd(_ context: OpContext) -> Bool {
    if case .int(let v)? = context.node.attributes[fusedAddAttribute] { return v != 0 }
    return false
}
