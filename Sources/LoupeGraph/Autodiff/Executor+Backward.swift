import Dispatch
import Foundation
import LoupeTensor

/// What one forward + backward pass returns.
public struct GradientResult: Sendable {
    /// The graph outputs and every tensor asked for with `keep` or `wrt`.
    public var values: [String: Tensor]
    /// ∂(seed · output) / ∂t for every tensor t asked for with `wrt`.
    public var gradients: [String: Tensor]
}

extension Executor {
    /// Reverse-mode differentiation over the graph: runs the graph forward on `feeds`, then
    /// propagates `seed` (the gradient of the objective with respect to the tensor `output`,
    /// same shape) backward, and returns the gradients with respect to every tensor in `wrt`
    /// (graph inputs or intermediate tensors), all from one backward pass. `seed` receives
    /// the output's value, so that a seed depending on it (the top class, a softmax
    /// derivative) costs no second forward pass.
    ///
    /// Only the nodes on a path from some `wrt` tensor to `output` run backward. A forward
    /// tensor is kept only while some node on that path still needs it in the backward
    /// sweep, and freed right after; tensors off the path are freed as in plain inference.
    ///
    /// The plan is the inference plan (BatchNorm folded, activations and residual adds fused,
    /// layouts carried), fused everywhere but across `wrt`, `keep` and `output`: the fused
    /// nodes' backward applies what they fused (`Conv.backward`), and a carried tensor is
    /// converted to NCHW only when a backward step reads its values
    /// (`Operator.backwardReads`). With `fused: false`, when some `wrt` tensor is a weight
    /// (an initializer), or with `LOUPE_FUSED_GRADIENTS=0`, nothing is fused: every node runs
    /// backward on its own, on NCHW tensors.
    public func gradients(feeds: [String: Tensor], output: String, seed makeSeed: (Tensor) throws -> Tensor, wrt: Set<String>,
                          keep: Set<String> = [], rules: BackwardRules = .standard, fused: Bool = true) throws -> GradientResult {
        let fuse = fused && Self.fusedGradientsEnabled && wrt.allSatisfy { graph.initializers[$0] == nil }
        let p = try plan(feeds: feeds, keep: keep.union(wrt).union([output]), fuse: fuse, carryLayouts: fuse)
        guard let outSlot = p.slotOf[output] else {
            throw LoupeError(.invalidArgument, "no tensor named '\(output)' in the graph")
        }
        var wrtSlots: [String: Int] = [:]
        for name in wrt {
            guard let s = p.slotOf[name] else { throw LoupeError(.invalidArgument, "no tensor named '\(name)' in the graph") }
            wrtSlots[name] = s
        }

        // Nodes on a path: descendants of some wrt tensor that are ancestors of the output.
        var fromWrt = Set(wrtSlots.values)
        var downstream = [Bool](repeating: false, count: p.steps.count)
        for (i, st) in p.steps.enumerated() where st.inputs.contains(where: { $0 >= 0 && fromWrt.contains($0) }) {
            downstream[i] = true
            for o in st.outputs where o >= 0 { fromWrt.insert(o) }
        }
        var toOutput: Set<Int> = [outSlot]
        var onPath = [Bool](repeating: false, count: p.steps.count)
        for i in stride(from: p.steps.count - 1, through: 0, by: -1) where downstream[i] {
            let st = p.steps[i]
            if st.outputs.contains(where: { $0 >= 0 && toOutput.contains($0) }) {
                onPath[i] = true
                for s in st.inputs where s >= 0 { toOutput.insert(s) }
            }
        }

        // Forward, keeping what the backward sweep reads: inputs and outputs of path nodes,
        // until the earliest path node that reads them has run backward.
        var neededUntil: [Int: Int] = [:]   // slot -> smallest path-step index that needs it
        for (i, st) in p.steps.enumerated() where onPath[i] {
            for s in st.inputs + st.outputs where s >= 0 { neededUntil[s] = min(neededUntil[s] ?? i, i) }
        }
        let pinned = Set(p.graph.outputs.compactMap { p.slotOf[$0.name] })
            .union(keep.compactMap { p.slotOf[$0] }).union(wrtSlots.values).union([outSlot])
        var slots = try forward(p, feeds, releasing: { i in
            p.steps[i].release.filter { neededUntil[$0] == nil && !pinned.contains($0) }
        })
        var values: [String: Tensor] = [:]
        for name in p.graph.outputs.map(\.name) + keep.sorted() + wrt.sorted() + [output] {
            guard let s = p.slotOf[name], let v = slots[s] else { throw LoupeError.invalid("tensor '\(name)' was not computed") }
            values[name] = v
        }
        guard let outValue = slots[outSlot] else { throw LoupeError.invalid("'\(output)' was not computed") }
        let seed = try makeSeed(outValue)
        guard seed.shape == outValue.shape, seed.isFloat else {
            throw LoupeError.shape("the seed gradient has shape \(describe(seed.shape)) but '\(output)' has \(describe(outValue.shape))")
        }

        // Backward sweep.
        var grads = [Tensor?](repeating: nil, count: p.slotCount)
        grads[outSlot] = seed
        var releaseAfter = [[Int]](repeating: [], count: p.steps.count)
        for (s, i) in neededUntil where !pinned.contains(s) { releaseAfter[i].append(s) }
        for i in stride(from: p.steps.count - 1, through: 0, by: -1) where onPath[i] {
            let st = p.steps[i]
            let gOut: [Tensor?] = try st.outputs.map { s in
                guard s >= 0, let g = grads[s] else { return nil }
                return st.op.acceptsCarriedGradients ? g : try g.plain()
            }
            if gOut.contains(where: { $0 != nil }) {
                let wanted = st.inputs.map { s in s >= 0 && toOutput.contains(s) && fromWrt.contains(s) && (slots[s]?.isFloat ?? false) }
                // A carried tensor whose values the step reads becomes NCHW, once: the slot
                // keeps the converted tensor for the other steps that read it.
                func value(_ s: Int, read: Bool) throws -> Tensor? {
                    guard s >= 0, let t = slots[s] else { return nil }
                    guard read, t.isCarried else { return t }
                    let plain = try t.plain()
                    slots[s] = plain
                    return plain
                }
                let ins: [Tensor?] = try st.inputs.enumerated().map { k, s in try value(s, read: st.op.backwardReads(input: k, wanted: wanted)) }
                let outs: [Tensor] = try st.outputs.enumerated().map { k, s in
                    guard let t = try value(s, read: st.op.backwardReads(output: k)) else {
                        throw LoupeError.invalid("\(st.node.label): output missing in backward")
                    }
                    return t
                }
                let gIn: [Tensor?]
                let t0 = Profile.enabled ? DispatchTime.now().uptimeNanoseconds : 0
                do {
                    gIn = try st.op.backward(ins, outputs: outs, gradients: gOut, wanted: wanted, rules: rules)
                } catch let e as LoupeError {
                    throw LoupeError(e.kind, "backward of \(st.node.label) with inputs (\(describeInputs(ins))): \(e.message)")
                }
                if Profile.enabled { Profile.add("backward " + (Profile.byNode ? st.node.name : st.node.opType), DispatchTime.now().uptimeNanoseconds - t0) }
                for (k, s) in st.inputs.enumerated() where s >= 0 && k < gIn.count && wanted[k] {
                    guard let g = gIn[k] else { continue }
                    guard g.shape == slots[s]?.shape else {
                        throw LoupeError.shape("backward of \(st.node.label) gave a gradient of shape \(describe(g.shape)) for input \(k) of shape \(describe(slots[s]?.shape ?? []))")
                    }
                    if let prev = grads[s] {
                        // Two gradients in one layout add there; else both in NCHW.
                        grads[s] = try Tensor.zipStored(prev, g) { a, b, out in addArrays(a, b, into: out) }
                            ?? broadcastFloat(try prev.plain(), try g.plain(), +)
                    } else {
                        grads[s] = g
                    }
                }
            }
            for s in st.outputs where s >= 0 && !wrtSlots.values.contains(s) { grads[s] = nil }
            for s in releaseAfter[i] { slots[s] = nil }
        }

        var result: [String: Tensor] = [:]
        for (name, s) in wrtSlots {
            guard toOutput.contains(s) || s == outSlot else {
                throw LoupeError.invalid("no differentiable path from '\(name)' to '\(output)': '\(output)' does not depend on it")
            }
            // On a path but no rule produced a gradient: every path is blocked (zero gradient).
            result[name] = try grads[s]?.plain() ?? Tensor(zeros: slots[s]?.shape ?? [])
        }
        return GradientResult(values: values, gradients: result)
    }
}

extension Executor {
    /// `LOUPE_FUSED_GRADIENTS=0` makes gradient plans unfused (every node runs backward on its
    /// own, every tensor NCHW), to compare.
    static let fusedGradientsEnabled = ProcessInfo.processInfo.environment["LOUPE_FUSED_GRADIENTS"] != "0"
}
