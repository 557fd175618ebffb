import LoupeGraph
import LoupeTensor

/// Fixing the batch dimension (dimension 0) of the graph inputs and outputs to a number, or
/// making it symbolic (`batch`).
///
/// Exporters often hard-code the batch they traced with in Reshape targets (`[1, -1]`). A
/// constant Reshape target whose first entry equals the old batch size, on a tensor whose
/// first dimension is that size, gets 0 there ("copy the input's dimension"), which gives the
/// same result at the old batch size and follows the batch at any other. Afterwards the
/// shapes are inferred at the new batch size (sizes 2 and 3 for `dynamic`); any other constant
/// that pins the batch makes that fail, and the error names the node.
public enum SetBatch {
    public enum Size: Sendable, Equatable, CustomStringConvertible {
        case fixed(Int)
        case dynamic
        public var description: String { if case .fixed(let n) = self { "\(n)" } else { "dynamic" } }
    }

    /// The rewritten graph and the Reshape nodes whose targets were changed.
    public static func apply(_ graph: Graph, to size: Size) throws -> (graph: Graph, rewritten: [String]) {
        var g = graph
        try g.sortTopologically()
        if case .fixed(let n) = size, n < 1 { throw LoupeError(.invalidArgument, "the batch size must be at least 1, got \(n)") }
        guard !g.inputs.isEmpty, g.inputs.allSatisfy({ ($0.dims?.count ?? 0) >= 1 }) else {
            throw LoupeError(.unsupported, "set-batch needs inputs that declare their shape (rank 1 or more); inputs: \(g.inputs.map { "'\($0.name)'" }.joined(separator: ", "))")
        }
        let oldBatch = g.inputs[0].dims![0].value ?? 1
        let old = try g.tensorTypes(batch: oldBatch)
        let oldOutputBatch = g.outputs.map { old[$0.name]?.shape.first == oldBatch }

        // Reshape targets that pin the old batch size.
        var rewritten: [String] = []
        var taken = g.allNames
        let producer = g.producers()
        for (i, n) in g.nodes.enumerated() where n.opType == "Reshape" && n.inputs.count >= 2 {
            guard let data = old[n.inputs[0]], data.shape.first == oldBatch else { continue }
            // The target: an initializer, or a Constant node's value (the rewrite adds an
            // initializer either way; an unused Constant is pruned below).
            let target: Tensor
            if let t = g.initializers[n.inputs[1]] {
                target = t
            } else if let p = producer[n.inputs[1]], g.nodes[p].opType == "Constant",
                      case .tensor(let t)? = g.nodes[p].attributes["value"] {
                target = t
            } else { continue }
            guard !target.isFloat, target.rank == 1, target.count >= 1, target.ints[0] == Int64(oldBatch) else { continue }
            let allowZero = (try? Attributes(n.attributes, owner: n.label).int("allowzero", 0)) ?? 0
            var v = target.ints
            if allowZero == 0 { v[0] = 0 } else if !v.contains(-1) { v[0] = -1 } else {
                throw LoupeError(.unsupported, "\(n.label) hard-codes the batch size \(oldBatch) in its target \(v) with allowzero = 1 and another -1, so it cannot follow a new batch size")
            }
            let name = g.freshName(n.inputs[1] + "_batch", taken: taken)
            taken.insert(name)
            g.initializers[name] = Tensor(shape: [v.count], ints: v, dtype: target.dtype)
            g.nodes[i].inputs[1] = name
            rewritten.append(n.name)
        }
        g.eliminateDeadNodes()

        let symbol: Dim
        if case .symbol(let s) = g.inputs[0].dims![0], !s.isEmpty { symbol = .symbol(s) } else { symbol = .symbol("batch") }
        for k in g.inputs.indices {
            switch size {
            case .fixed(let n): g.inputs[k].dims![0] = .fixed(n)
            case .dynamic: g.inputs[k].dims![0] = symbol
            }
        }
        let checks: [Int]
        switch size {
        case .fixed(let n): checks = [n]
        case .dynamic: checks = [2, 3]
        }
        for b in checks {
            let types: [String: TensorType]
            do { types = try g.tensorTypes(batch: b) } catch let e as LoupeError {
                throw LoupeError(.unsupported, "at batch size \(b) the model's shapes no longer fit: \(e.message). A constant in the graph probably hard-codes the batch size \(oldBatch)")
            }
            for (k, o) in g.outputs.enumerated() where oldOutputBatch[k] {
                guard let t = types[o.name], t.shape.first == b else {
                    let shape = types[o.name].map { describe($0.shape) } ?? "unknown"
                    throw LoupeError(.unsupported, "at batch size \(b) the output '\(o.name)' has shape \(shape): a constant in the graph hard-codes the batch size \(oldBatch)")
                }
            }
        }
        let newTypes = try g.tensorTypes(batch: checks[0])
        for (k, o) in g.outputs.enumerated() {
            guard let t = newTypes[o.name] else { continue }
            var dims: [Dim] = t.shape.map { .fixed($0) }
            if oldOutputBatch[k], size == .dynamic, !dims.isEmpty { dims[0] = symbol }
            g.outputs[k].dims = dims
        }
        try g.validate()
        return (g, rewritten)
    }
}
