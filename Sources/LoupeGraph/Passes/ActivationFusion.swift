import LoupeTensor

/// The internal attribute that tells Conv or Add to clamp their output to [lo, hi]: a fused
/// Relu is [0, +inf], a fused ReLU6 (Clip) is [0, 6].
public let fusedClipAttribute = "loupe.fused_clip"

extension Graph {
    /// The ops that apply a fused clamp themselves: Conv (per GEMM block) and Add (in the
    /// same loop; ResNet's residual Add + Relu).
    static let fusableProducers: Set<String> = ["Conv", "Add"]

    /// Folds each Relu, or Clip with constant bounds, into the Conv or Add that feeds it when
    /// that node's output has no other reader, is not a graph output and is not in `keep`.
    /// Saves one pass over memory and one buffer per activation. Gradient plans fuse too: the
    /// fused node's backward applies the activation's rule first (`fusedClipGradient`).
    /// Returns how many activations were fused.
    @discardableResult
    public mutating func fuseActivations(keeping keep: Set<String> = []) -> Int {
        var readers: [String: Int] = [:]
        for n in nodes { for i in n.inputs where !i.isEmpty { readers[i, default: 0] += 1 } }
        let protected = Set(outputs.map(\.name)).union(keep)
        var producer: [String: Int] = [:]
        for (i, n) in nodes.enumerated() { for o in n.outputs { producer[o] = i } }
        var removed = Set<Int>()
        for (i, n) in nodes.enumerated() where n.domain.isEmpty || n.domain == "ai.onnx" {
            guard let bounds = clipBounds(n), let src = n.inputs.first, let p = producer[src],
                  Self.fusableProducers.contains(nodes[p].opType), nodes[p].attributes[fusedClipAttribute] == nil,
                  nodes[p].outputs.count == 1, readers[src] == 1, !protected.contains(src) else { continue }
            nodes[p].attributes[fusedClipAttribute] = .floats([bounds.0, bounds.1])
            nodes[p].outputs[0] = n.outputs[0]
            removed.insert(i)
        }
        nodes = nodes.indices.filter { !removed.contains($0) }.map { nodes[$0] }
        return removed.count
    }

    /// [lo, hi] of a Relu, or of a Clip whose bounds are attributes or constants.
    func clipBounds(_ n: Node) -> (Float, Float)? {
        switch n.opType {
        case "Relu":
            return (0, .infinity)
        case "Clip":
            let a = Attributes(n.attributes, owner: n.label)
            if opset < 11 {
                guard let lo = try? a.float("min", -.greatestFiniteMagnitude), let hi = try? a.float("max", .greatestFiniteMagnitude) else { return nil }
                return (lo, hi)
            }
            func bound(_ i: Int, _ def: Float) -> Float? {
                guard i < n.inputs.count, !n.inputs[i].isEmpty else { return def }
                guard let t = initializers[n.inputs[i]], t.isFloat, t.count == 1 else { return nil }
                return t.floats[0]
            }
            guard let lo = bound(1, -.infinity), let hi = bound(2, .infinity) else { return nil }
            return (lo, hi)
        default:
            return nil
        }
    }
}

/// Clamps `t` to [lo, hi] in place (the fused activation of Conv).
@inline(__always)
func applyFusedClip(_ t: inout Tensor, _ bounds: (Float, Float)?) {
    guard let (lo, hi) = bounds else { return }
    t.floats.withUnsafeMutableBufferPointer { p in
        for i in 0..<p.count { p[i] = min(max(p[i], lo), hi) }
    }
}

/// The gradient that a fused clamp passes back to the node it is fused into, given the
/// incoming gradient `g` and the clamped output `y`: what `Relu.backward` (bounds [0, +inf])
/// or `Clip.backward` would give, under the ReLU rule of `rules` when lo is 0 and the
/// standard one otherwise. Read from y instead of the activation's input x: for lo < hi,
/// x > lo exactly when y > lo, and x < hi exactly when y < hi. With hi = +inf there is no
/// upper test, as in `Relu.backward`. Where it differs from the unfused ops: a Clip with no
/// upper bound lets an input of +inf pass its gradient (`Clip.backward` stops it); a Clip
/// with lo ≥ hi (y is hi everywhere) follows the rule on y; under deconvnet a NaN gradient
/// becomes 0 (`max(g, 0)` keeps it).
func fusedClipGradient(_ g: Tensor, output y: Tensor, _ bounds: (Float, Float), _ rules: BackwardRules) throws -> Tensor {
    let (lo, hi) = bounds
    let rule = lo == 0 ? rules.relu : .standard
    func masked(_ rule: ReluRule) throws -> Tensor {
        // g and y in the same layout (NCHW, or carried alike in a gradient plan): the mask
        // runs over the stored floats, where a blocked layout's padding holds zeros in both.
        let code: ClampGradientRule
        switch rule {
        case .standard: code = .standard
        case .deconvnet: code = .deconvnet
        case .guided: code = .guided
        case .redirected: code = .redirected
        }
        let result = try Tensor.zipStored(g, y) { pg, py, out in clampGradient(pg, output: py, into: out, lo: lo, hi: hi, rule: code) }
        guard let result else {
            throw LoupeError.shape("fused activation: gradient \(describe(g.shape)) and output \(describe(y.shape)) are not stored alike")
        }
        return result
    }
    if rule == .redirected {
        // Lucid's redirected ReLU: the true gradient unless none of it passes.
        let standard = try masked(.standard)
        if standard.withStoredFloats({ $0.contains { $0 != 0 } }) { return standard }
    }
    return try masked(rule)
}

/// The fused bounds a node's attributes carry, if any.
func fusedClip(_ context: OpContext) -> (Float, Float)? {
    guard case .floats(let v)? = context.node.attributes[fusedClipAttribute], v.count == 2 else { return nil }
    return (v[0], v[1])
}
