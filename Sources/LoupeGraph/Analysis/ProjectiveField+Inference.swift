import Foundation
import LoupeTensor

/// Incremental inference (Nakandala et al., SIGMOD 2019, section 3): the forward pass of many
/// copies of one image, each changed in a small region, computed from the image's own
/// activations by recomputing only each change's projective field (`ProjectiveField`).
///
/// The image runs once and every activation is kept. A batch of changes then runs node by
/// node: a tensor reached by regions is a *patch* tensor `[B, C, h, w]` (one fixed size per
/// tensor, each change at its own origin; outside its patch a change's tensor equals the
/// image's), in the way of Krypton's patches. A window op computes its output patch from a
/// crop of its input — the image's activation with the input patch pasted in, plus the
/// window's halo, and the op's padding value where the crop passes the true border — with
/// a copy of the op whose padding is zero; an element-wise op or a Concat over channels
/// crops every input at the output patch. From the first op without a region rule
/// (`whole`) on, tensors are materialised `[B, ...]` and the op runs as in a batched plan.
///
/// With the threshold τ = 1 the outputs equal a batched forward pass of the changed images
/// (up to the summation order of the convolution kernels); τ < 1 is Nakandala's approximate
/// inference.
///
/// One instance runs one batch at a time (it keeps the batched plans it uses); use one
/// instance per thread (`sibling()`: the zero-padding ops, their prepared weights and the
/// image's activations are shared).
public final class IncrementalInference: @unchecked Sendable {
    public let executor: Executor
    public let input: String
    public let output: String
    /// The image, `[1, C, H, W]`.
    public let image: Tensor
    let plan: Executor.Plan
    /// Every tensor of the image's forward pass (constants included), by name.
    let cache: [String: Tensor]
    /// The zero-padding copy of each window op, by step index; shared with the siblings (an
    /// op's own caches are locked), so that its weights are prepared once.
    let patchOps: Locked<[Int: any Operator]>
    /// Batched plans' steps by their first output, per batch size (for `whole` tensors).
    var batchedSteps: [Int: (Executor.Plan, [String: Executor.Step], [String: Tensor])] = [:]

    /// Runs `image` (`[1, C, H, W]`) once through `executor`'s inference plan, keeping every
    /// activation; `output` is the tensor `run` returns.
    public init(executor: Executor, input: String, output: String, image: Tensor) throws {
        guard image.rank == 4, image.shape[0] == 1 else {
            throw LoupeError.shape("incremental inference needs one NCHW image [1, C, H, W], got \(describe(image.shape))")
        }
        patchOps = Locked([:])
        self.executor = executor
        self.input = input
        self.output = output
        self.image = image
        // Residual adds stay `Add` nodes: fused into a Conv, their addend would make the Conv's
        // reach whole (ProjectiveField+Ops) and everything after the first block run in full.
        plan = try executor.plan(feeds: [input: image], keep: [output], fuse: true, fuseResiduals: false)
        let slots = try executor.forward(plan, [input: image], releasing: { _ in [] })
        var cache: [String: Tensor] = [:]
        for (name, s) in plan.slotOf { if let v = slots[s] { cache[name] = v } }
        self.cache = cache
    }

    private init(sharing other: IncrementalInference) {
        (executor, input, output, image) = (other.executor, other.input, other.output, other.image)
        (plan, cache, patchOps) = (other.plan, other.cache, other.patchOps)
    }

    /// A runner for another thread on the same image: the plan and the image's activations
    /// are shared (read only), and so are the window ops with zero padding and the batched
    /// plans (from the executor's cache): their ops' caches are locked.
    public func sibling() -> IncrementalInference { IncrementalInference(sharing: self) }

    /// The projective field of `changes` (regions of the input) in this plan's graph.
    public func field(changes: [ProjectiveField.Region], threshold: Double = 1) throws -> ProjectiveField {
        try ProjectiveField(graph: plan.graph, types: plan.types, input: input, changes: changes, threshold: threshold)
    }

    /// A value of a batch: the image's own (one for every change), a patch per change, or the
    /// whole tensor per change.
    enum Value {
        case cached
        case patch(Tensor, origins: [(Int, Int)])
        case whole(Tensor)
    }

    /// `output` for the changes `indices` of `field`: change i is the image with its region
    /// `field.changes[i]` taken from `replacement` (a tensor of the image's shape). Returns
    /// `[indices.count, ...]`.
    public func run(_ field: ProjectiveField, indices: [Int], replacement: Tensor) throws -> Tensor {
        guard replacement.shape == image.shape else {
            throw LoupeError.shape("the replacement \(describe(replacement.shape)) must have the image's shape \(describe(image.shape))")
        }
        let b = indices.count
        var values: [String: Value] = [:]
        // The input's patches: the image with each region replaced.
        guard let (ph, pw) = field.patchSize(of: input) else { throw LoupeError.invalid("the input has no changed region") }
        let inputOrigins = indices.map { field.patchOrigin(of: input, change: $0)! }
        let inputPatch = crop(image, nil, at: inputOrigins, size: (ph, pw), fill: 0)
        let (c, w) = (image.shape[1], image.shape[3])
        let patched = try Tensor(shape: [b, c, ph, pw]) { buf in
            for (k, i) in indices.enumerated() {
                let r = field.changes[i], (oy, ox) = inputOrigins[k]
                for ch in 0..<c {
                    for y in 0..<ph {
                        let base = ((k * c + ch) * ph + y) * pw, iy = oy + y
                        for x in 0..<pw {
                            let ix = ox + x
                            buf[base + x] = r.y.contains(iy) && r.x.contains(ix)
                                ? replacement.floats[(ch * image.shape[2] + iy) * w + ix] : inputPatch.floats[base + x]
                        }
                    }
                }
            }
        }
        values[input] = .patch(patched, origins: inputOrigins)

        for (si, step) in plan.steps.enumerated() {
            let name = step.node.outputs[0]
            let reach = field.reach(of: name)
            if reach == .unchanged { continue }
            let outs: [Tensor]
            let t0 = Profile.enabled ? DispatchTime.now().uptimeNanoseconds : 0
            defer {
                if Profile.enabled {
                    let key = Profile.byNode ? step.node.name : step.node.opType
                    Profile.add("\(reach == .whole ? "whole" : "patch") \(key)", DispatchTime.now().uptimeNanoseconds - t0)
                }
            }
            do {
                if reach == .whole {
                    outs = try runWhole(step, values, batch: b)
                    for (o, t) in zip(step.node.outputs, outs) where !o.isEmpty { values[o] = .whole(t) }
                    continue
                }
                outs = try runPatch(si, step, field, indices, values)
            } catch let e as LoupeError {
                throw LoupeError(e.kind, "\(step.node.label) (incremental): \(e.message)")
            }
            values[name] = .patch(outs[0], origins: indices.map { field.patchOrigin(of: name, change: $0)! })
        }
        switch values[output] ?? .cached {
        case .whole(let t): return t
        case .cached: return materialise(output, .cached, batch: b)
        case .patch: return materialise(output, values[output]!, batch: b)
        }
    }

    /// Runs a node whose output is reached by regions on patches.
    func runPatch(_ si: Int, _ step: Executor.Step, _ field: ProjectiveField, _ indices: [Int],
                  _ values: [String: Value]) throws -> [Tensor] {
        let node = step.node, name = node.outputs[0]
        guard let rule = try ProjectiveField.rule(node, types: plan.types, opset: plan.graph.opset),
              let (h, w) = field.patchSize(of: name) else {
            throw LoupeError.invalid("no region rule")
        }
        let origins = indices.map { field.patchOrigin(of: name, change: $0)! }
        switch rule {
        case .window(let g, let padValue):
            let op = try patchOp(si, node)
            let s = g.strides, pb = g.padsBegin
            let ih = (h - 1) * s[0] + (g.kernel[0] - 1) * g.dilations[0] + 1
            let iw = (w - 1) * s[1] + (g.kernel[1] - 1) * g.dilations[1] + 1
            let x = node.inputs[0]
            let at = origins.map { ($0.0 * s[0] - pb[0], $0.1 * s[1] - pb[1]) }
            var ins: [Tensor?] = node.inputs.map { $0.isEmpty ? nil : cache[$0] }
            ins[0] = crop(cache[x]!, values[x], at: at, size: (ih, iw), fill: padValue)
            return try op.forward(ins)
        case .pointwise:
            let out = plan.types[name]!.shape
            let ins: [Tensor?] = node.inputs.map { n in
                guard !n.isEmpty else { return nil }
                let v = cache[n]!
                guard v.rank == 4, v.shape[2] == out[2], v.shape[3] == out[3], n != "" else { return v }
                return crop(v, values[n], at: origins, size: (h, w), fill: 0)
            }
            return try step.op.forward(ins)
        }
    }

    /// The op of step `si` with zero padding (and no ceil mode): its output over a crop that
    /// already holds the halo is the region of the full output.
    func patchOp(_ si: Int, _ node: Node) throws -> any Operator {
        if let op = patchOps.value[si] { return op }
        var n = node
        n.attributes["pads"] = .ints([0, 0, 0, 0])
        n.attributes["auto_pad"] = .string("NOTSET")
        if n.attributes["ceil_mode"] != nil { n.attributes["ceil_mode"] = .int(0) }
        let op = try OperatorRegistry.make(n, opset: plan.graph.opset, domainOpsets: plan.graph.domainOpsets)
        return patchOps.mutate { ops in
            if let first = ops[si] { return first }
            ops[si] = op
            return op
        }
    }

    /// Runs a node in full on `[B, ...]` tensors, with the step of a plan for batch B.
    func runWhole(_ step: Executor.Step, _ values: [String: Value], batch b: Int) throws -> [Tensor] {
        if batchedSteps[b] == nil {
            let p = b == 1 ? plan : try executor.plan(for: [input: TensorType(image.dtype, [b] + image.shape.dropFirst())], keep: [output], fuse: true, fuseResiduals: false)
            var steps: [String: Executor.Step] = [:]
            for s in p.steps { steps[s.node.outputs[0]] = s }
            var constants: [String: Tensor] = [:]
            let nameOf = Dictionary(p.slotOf.map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
            for (s, v) in p.constants { if let n = nameOf[s] { constants[n] = v } }
            batchedSteps[b] = (p, steps, constants)
        }
        let (_, steps, constants) = batchedSteps[b]!
        guard let batched = steps[step.node.outputs[0]] else {
            throw LoupeError.invalid("the plan for batch \(b) has no node computing '\(step.node.outputs[0])'")
        }
        let ins: [Tensor?] = batched.node.inputs.map { n in
            guard !n.isEmpty else { return nil }
            if let v = values[n] { return materialise(n, v, batch: b) }
            return constants[n] ?? cache[n]
        }
        return try batched.op.forward(ins)
    }

    /// `[B, ...]`: the image's tensor repeated, with each change's patch pasted in.
    func materialise(_ name: String, _ v: Value, batch b: Int) -> Tensor {
        if case .whole(let t) = v { return t }
        let t = cache[name]!
        if t.rank == 4 {
            return crop(t, v, at: Array(repeating: (0, 0), count: b), size: (t.shape[2], t.shape[3]), fill: 0)
        }
        var floats = [Float]()
        floats.reserveCapacity(t.count * b)
        for _ in 0..<b { floats.append(contentsOf: t.floats) }
        return Tensor(shape: [b * t.shape[0]] + t.shape.dropFirst(), floats: floats)
    }

    /// Windows of `size` at `at` (top-left corners, possibly outside) of a `[1, C, H, W]`
    /// activation with each change's patch pasted in (`value`), `fill` outside the tensor:
    /// `[at.count, C, h, w]`.
    func crop(_ t: Tensor, _ value: Value?, at: [(Int, Int)], size: (Int, Int), fill: Float) -> Tensor {
        let (c, H, W) = (t.shape[1], t.shape[2], t.shape[3]), (h, w) = size
        var patch: (Tensor, [(Int, Int)])? = nil
        if case .patch(let p, let o)? = value { patch = (p, o) }
        // Row copies through pointers (`update`, `initialize(repeating:)`): element loops with
        // checked index arithmetic did not vectorise and took 12 % of an occlusion run.
        let out = try! Tensor(shape: [at.count, c, h, w]) { buf in
            let dst = buf.baseAddress!
            t.floats.withUnsafeBufferPointer { srcBuffer in
                let src = srcBuffer.baseAddress!
                for (k, (oy, ox)) in at.enumerated() {
                    // Columns of the crop inside the tensor: x0 ..< x1.
                    let x0 = min(w, max(0, -ox)), x1 = max(x0, min(w, W - ox))
                    for ch in 0..<c {
                        for y in 0..<h {
                            let row = dst + ((k * c + ch) * h + y) * w, iy = oy + y
                            guard iy >= 0, iy < H, x0 < x1 else {
                                row.initialize(repeating: fill, count: w)
                                continue
                            }
                            row.initialize(repeating: fill, count: x0)
                            (row + x0).update(from: src + (ch * H + iy) * W + ox + x0, count: x1 - x0)
                            (row + x1).initialize(repeating: fill, count: w - x1)
                        }
                    }
                    guard let (p, origins) = patch else { continue }
                    // Paste the part of the patch inside the crop.
                    let (py, px) = origins[k], (ph, pw) = (p.shape[2], p.shape[3])
                    let ya = max(py, oy), yb = min(py + ph, oy + h), xa = max(px, ox), xb = min(px + pw, ox + w)
                    guard ya < yb, xa < xb else { continue }
                    p.floats.withUnsafeBufferPointer { pp in
                        for ch in 0..<c {
                            for y in ya..<yb {
                                (dst + ((k * c + ch) * h + (y - oy)) * w + (xa - ox))
                                    .update(from: pp.baseAddress! + ((k * c + ch) * ph + (y - py)) * pw + (xa - px), count: xb - xa)
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
