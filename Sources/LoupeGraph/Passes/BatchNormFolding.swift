import LoupeTensor

/// Folding inference-mode BatchNormalization into the Conv or Gemm before it: the arithmetic
/// shared by the `fold-bn` surgery (`LoupeSurgery/FoldBatchNorm.swift`, a rewrite of the
/// user's graph) and the executor's inference plans (`Executor.plan(... fuse: true)`, which
/// rewrite only the plan's copy, once per plan).
///
/// BN computes y = γ (x − μ) / √(σ² + ε) + β per channel c (axis 1). With s_c = γ_c / √(σ²_c + ε)
/// a producer y = W x + b becomes y = (s ⊙ W) x + s ⊙ (b − μ) + β: the Conv's weights
/// `[M, C/group, k...]` are scaled along M, a Gemm's along its output columns (rows of B
/// when `transB` = 1). This is the inference-mode BN of Ioffe & Szegedy, "Batch
/// Normalization", ICML 2015, §3.1, folded as in Jacob et al., CVPR 2018, §3.2.
///
/// A BN is folded only when its producer's output feeds nothing else, is no graph output and
/// is not in `keep` (an explanation that reads the convolution's own output must see it
/// unfolded), its parameters and the producer's weights are constants (initializers), and it
/// has no training outputs. The folded weights and bias are new initializers named
/// `<weights>_bnfolded` / `<bias>_bnfolded`; the original arrays are left as they were.
extension Graph {
    /// Folds every foldable BN into its producer; returns the names of the BN nodes folded.
    /// Expects topologically sorted nodes and constant parameters (run `foldConstants` first
    /// when they come from constant subgraphs). Leaves unread initializers to
    /// `eliminateDeadNodes`.
    @discardableResult
    public mutating func foldBatchNormalizations(keeping keep: Set<String> = []) throws -> [String] {
        let producer = producers()
        var readers: [String: Set<Int>] = [:]
        for (i, n) in nodes.enumerated() { for x in n.inputs where !x.isEmpty { readers[x, default: []].insert(i) } }
        let protected = Set(outputs.map(\.name)).union(keep)
        var taken = Set(nodes.map(\.name)).union(initializers.keys).union(inputs.map(\.name)).union(protected)
        for n in nodes { taken.formUnion(n.inputs); taken.formUnion(n.outputs) }
        func fresh(_ base: String) -> String {
            var name = base, k = 1
            while taken.contains(name) { name = "\(base)_\(k)"; k += 1 }
            taken.insert(name)
            return name
        }
        var removed = Set<Int>()
        var folded: [String] = []
        for (bi, bn) in nodes.enumerated() where bn.opType == "BatchNormalization" && (bn.domain.isEmpty || bn.domain == "ai.onnx") {
            guard bn.inputs.count == 5, bn.outputs.filter({ !$0.isEmpty }).count == 1, !bn.outputs[0].isEmpty,
                  let pi = producer[bn.inputs[0]], !removed.contains(pi) else { continue }
            let p = nodes[pi]
            guard p.opType == "Conv" || p.opType == "Gemm", p.domain.isEmpty || p.domain == "ai.onnx", p.outputs.count == 1,
                  p.inputs.count >= 2, readers[p.outputs[0]] == [bi], !protected.contains(p.outputs[0]) else { continue }
            let attrs = Attributes(bn.attributes, owner: bn.label)
            if (try attrs.int("training_mode", 0)) != 0 { continue }
            let eps = try attrs.float("epsilon", 1e-5)
            guard let gamma = initializers[bn.inputs[1]], let beta = initializers[bn.inputs[2]],
                  let mean = initializers[bn.inputs[3]], let variance = initializers[bn.inputs[4]],
                  let w = initializers[p.inputs[1]], w.isFloat,
                  [gamma, beta, mean, variance].allSatisfy({ $0.isFloat && $0.rank == 1 }) else { continue }
            let m = gamma.count
            guard [beta, mean, variance].allSatisfy({ $0.count == m }) else { continue }
            var bias: [Float]
            if p.inputs.count > 2, !p.inputs[2].isEmpty {
                guard let b = initializers[p.inputs[2]], b.isFloat else { continue }
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
            let wName = fresh(p.inputs[1] + "_bnfolded")
            let bName = fresh((p.inputs.count > 2 && !p.inputs[2].isEmpty ? p.inputs[2] : p.name + ".bias") + "_bnfolded")
            initializers[wName] = Tensor(shape: w.shape, floats: wf, dtype: w.dtype)
            initializers[bName] = Tensor(shape: [m], floats: bias, dtype: w.dtype)
            var q = p
            q.inputs = [p.inputs[0], wName, bName]
            q.outputs = [bn.outputs[0]]
            if p.opType == "Gemm" { q.attributes["beta"] = nil }
            nodes[pi] = q
            removed.insert(bi)
            folded.append(bn.name)
        }
        nodes = nodes.indices.filter { !removed.contains($0) }.map { nodes[$0] }
        return folded
    }
}
