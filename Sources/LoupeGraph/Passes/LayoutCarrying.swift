import LoupeTensor

/// The internal attribute that lets a node's output stay in the memory layout oneDNN chose
/// for it (`Tensor.carried`) instead of being reordered to NCHW: set by `markCarriedLayouts`.
public let carriedLayoutAttribute = "loupe.carry_layout"

extension Graph {
    /// The ops that can produce a carried output (given carried inputs, for all but Conv).
    static let carriedProducers: Set<String> = ["Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "Concat"]

    /// Decides where an inference plan keeps activations in oneDNN's layouts (NHWC,
    /// `nChw16c`, ...) between layers: marks each Conv, pooling or channel Concat whose 4-D
    /// float output is not a graph output, not in `keep`, and is read only by inputs that take
    /// a carried tensor: X or the fused residual addend of a Conv, X of MaxPool (without
    /// Indices), AveragePool and GlobalAveragePool, and the inputs of a Concat along channels
    /// all of whose inputs are carried. Everything else reads NCHW, so the layout is converted
    /// back exactly once, at the boundary. Run after the fusion passes, on inference plans
    /// only (a backward plan reads every tensor as NCHW). Returns how many nodes were marked.
    ///
    /// The mark only allows: an op emits a carried tensor only when it ran on oneDNN (its
    /// input was carried, for pooling and Concat), and the executor converts any carried
    /// input an op does not accept (`Operator.acceptsCarried`), so a wrong decision costs a
    /// reorder, never a wrong value.
    @discardableResult
    public mutating func markCarriedLayouts(keeping keep: Set<String>, types: [String: TensorType]) -> Int {
        let protected = Set(outputs.map(\.name)).union(keep)
        var readers: [String: [(node: Int, input: Int)]] = [:]
        for (i, n) in nodes.enumerated() {
            for (k, name) in n.inputs.enumerated() where !name.isEmpty { readers[name, default: []].append((i, k)) }
        }
        func isStandard(_ n: Node) -> Bool { n.domain.isEmpty || n.domain == "ai.onnx" }
        func image(_ name: String) -> Bool { types[name].map { $0.shape.count == 4 && $0.dtype == .float32 } ?? false }
        func isChannelConcat(_ n: Node) -> Bool {
            guard n.opType == "Concat", n.inputs.count > 1 else { return false }
            guard case .int(let a)? = n.attributes["axis"] else { return n.attributes["axis"] == nil }
            return a == 1 || a == -3
        }
        func takesCarried(_ n: Node, _ k: Int) -> Bool {
            guard isStandard(n) else { return false }
            switch n.opType {
            case "Conv": return k == 0 || (k == 3 && n.attributes[fusedAddAttribute] != nil)
            case "MaxPool": return k == 0 && n.outputs.filter { !$0.isEmpty }.count == 1
            case "AveragePool", "GlobalAveragePool": return k == 0
            case "Concat": return isChannelConcat(n)
            default: return false
            }
        }
        var carry = Set<Int>()
        for (i, n) in nodes.enumerated() where isStandard(n) && Self.carriedProducers.contains(n.opType) && n.outputs.count == 1 {
            let o = n.outputs[0]
            guard !protected.contains(o), image(o), let rs = readers[o], !rs.isEmpty,
                  rs.allSatisfy({ takesCarried(nodes[$0.node], $0.input) }) else { continue }
            if n.opType == "Concat" && !isChannelConcat(n) { continue }
            carry.insert(i)
        }
        // A Concat takes carried inputs only when all of them are: a producer feeding a Concat
        // with an input that stays NCHW stays NCHW too. Pooling and Concat give a carried
        // output only from carried inputs. Until nothing changes.
        let producer = producers()
        func isCarried(_ name: String) -> Bool { producer[name].map(carry.contains) ?? false }
        var changed = true
        while changed {
            changed = false
            for i in carry.sorted() {
                let n = nodes[i]
                let feedsMixedConcat = readers[n.outputs[0]]!.contains { r in
                    nodes[r.node].opType == "Concat" && !nodes[r.node].inputs.allSatisfy(isCarried)
                }
                let fromPlain = n.opType == "Concat" ? !n.inputs.allSatisfy(isCarried) : n.opType != "Conv" && !isCarried(n.inputs[0])
                if feedsMixedConcat || fromPlain { carry.remove(i); changed = true }
            }
        }
        for i in carry { nodes[i].attributes[carriedLayoutAttribute] = .int(1) }
        return carry.count
    }
}

/// True when the plan lets this node's output stay in oneDNN's layout (`carriedLayoutAttribute`).
func carriesLayout(_ context: OpContext) -> Bool {
    if case .int(let v)? = context.node.attributes[carriedLayoutAttribute] { return v != 0 }
    return false
}
