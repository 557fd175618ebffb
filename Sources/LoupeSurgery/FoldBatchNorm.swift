import LoupeGraph
import LoupeTensor

/// Folding inference-mode BatchNormalization into the Conv or Gemm before it.
///
/// BN computes y = γ (x − μ) / √(σ² + ε) + β per channel c (axis 1). With s_c = γ_c / √(σ²_c + ε)
/// a producer y = W x + b becomes y = (s ⊙ W) x + s ⊙ (b − μ) + β: the Conv's weights
/// `[M, C/group, kH, kW]` are scaled along M, a Gemm's along its output columns (rows of B
/// when `transB` = 1). A BN is folded only when its producer feeds nothing else, its
/// parameters and the producer's weights are constants, and it has no training outputs.
public enum FoldBatchNorm {
    /// The rewritten graph and the names of the BN nodes folded.
    public static func apply(_ graph: Graph) throws -> (graph: Graph, folded: [String]) {
        var g = graph
        try g.sortTopologically()
        // Weights computed by constant subgraphs (ConstantOfShape, Constant, ...) become
        // initializers first, so that they can be folded.
        let needsFolding = g.nodes.contains { n in
            n.opType == "BatchNormalization" && n.inputs.dropFirst().contains { !$0.isEmpty && g.initializers[$0] == nil }
        }
        if needsFolding { try g.foldConstants() }
        let producer = g.producers()
        let consumers = g.consumers()
        let outputs = Set(g.outputs.map(\.name))
        var taken = g.allNames
        var removed = Set<Int>()
        var folded: [String] = []
        for (bi, bn) in g.nodes.enumerated() where bn.opType == "BatchNormalization" && (bn.domain.isEmpty || bn.domain == "ai.onnx") {
            guard bn.inputs.count == 5, bn.outputs.filter({ !$0.isEmpty }).count == 1,
                  let pi = producer[bn.inputs[0]], !removed.contains(pi) else { continue }
            let p = g.nodes[pi]
            guard p.opType == "Conv" || p.opType == "Gemm", p.outputs.count == 1,
                  consumers[p.outputs[0]] == [bi], !outputs.contains(p.outputs[0]) else { continue }
            let attrs = Attributes(bn.attributes, owner: bn.label)
            if (try attrs.int("training_mode", 0)) != 0 { continue }
            let eps = try attrs.float("epsilon", 1e-5)
            guard let gamma = g.initializers[bn.inputs[1]], let beta = g.initializers[bn.inputs[2]],
                  let mean = g.initializers[bn.inputs[3]], let variance = g.initializers[bn.inputs[4]],
                  let w = g.initializers[p.inputs[1]], w.isFloat,
                  [gamma, beta, mean, variance].allSatisfy({ $0.isFloat && $0.rank == 1 }) else { continue }
            let m = gamma.count
            guard [beta, mean, variance].allSatisfy({ $0.count == m }) else { continue }
            var bias: [Float]
            if p.inputs.count > 2, !p.inputs[2].isEmpty {
                guard let b = g.initializers[p.inputs[2]], b.isFloat else { continue }
                if b.count == m { bias = b.floats } else if b.count == 1 { bias = [Float](repeating: b.floats[0], count: m) } else { continue }
            } else {
                bias = [Float](repeating: 0, count: m)
            }
            let s = (0..<m).map { gamma.floats[$0] / (variance.floats[$0] + eps).squareRoot() }
            var wf = w.floats
            if p.opType == "Conv" {
                guard w.rank >= 3, w.shape[0] == m else { continue }
                let per = w.count / m
                for c in 0..<m { for k in 0..<per { wf[c * per + k] *= s[c] } }
            } else {
                let pa = Attributes(p.attributes, owner: p.label)
                guard w.rank == 2, try pa.float("alpha", 1) == 1, try pa.float("beta", 1) == 1 || p.inputs.count < 3 else { continue }
                let transB = try pa.int("transB", 0) != 0
                let (r, cols) = (w.shape[0], w.shape[1])
                if transB {
                    guard r == m else { continue }
                    for c in 0..<m { for k in 0..<cols { wf[c * cols + k] *= s[c] } }
                } else {
                    guard cols == m else { continue }
                    for k in 0..<r { for c in 0..<m { wf[k * cols + c] *= s[c] } }
                }
            }
            for c in 0..<m { bias[c] = s[c] * (bias[c] - mean.floats[c]) + beta.floats[c] }
            let wName = g.freshName(p.inputs[1] + "_bnfolded", taken: taken); taken.insert(wName)
            let bName = g.freshName((p.inputs.count > 2 && !p.inputs[2].isEmpty ? p.inputs[2] : p.name + ".bias") + "_bnfolded", taken: taken)
            taken.insert(bName)
            g.initializers[wName] = Tensor(shape: w.shape, floats: wf, dtype: w.dtype)
            g.initializers[bName] = Tensor(shape: [m], floats: bias, dtype: w.dtype)
            var q = p
            q.inputs = [p.inputs[0], wName, bName]
            q.outputs = [bn.outputs[0]]
            if p.opType == "Gemm" { q.attributes["beta"] = nil }
            g.nodes[pi] = q
            removed.insert(bi)
            folded.append(bn.name)
        }
        g.nodes = g.nodes.indices.filter { !removed.contains($0) }.map { g.nodes[$0] }
        g.eliminateDeadNodes()
        try g.validate()
        return (g, folded)
    }
}
