import Dispatch
import Foundation
import LoupeTensor

/// Runs a graph forward on float32 NCHW (or any) tensors.
///
/// For each new set of input shapes the executor specialises the graph once (a *plan*):
/// shape inference, constant folding with the now-known shapes, dead-node elimination,
/// and the step at which each intermediate tensor is last read. Running a plan releases
/// every intermediate buffer right after its last reader, unless asked to keep it.
///
/// One executor may run on several threads at once: the plan cache is behind a lock, plans
/// are immutable once made, and each run has its own buffers.
public final class Executor: @unchecked Sendable {
    public let graph: Graph
    let ops: OperatorCache
    private let plans = Locked<[String: Plan]>([:])

    /// A specialised graph and its schedule.
    public struct Plan: @unchecked Sendable {
        public let graph: Graph
        public let types: [String: TensorType]
        let steps: [Step]
        let slotOf: [String: Int]
        let slotCount: Int
        let constants: [(Int, Tensor)]
        /// Activations may stay in oneDNN's layouts between layers (`markCarriedLayouts`).
        public let carriesLayouts: Bool

        /// For each step, the slots (tensor numbers) freed after it: for tests and debugging.
        public var releasedAfterStep: [[Int]] { steps.map { $0.release.sorted() } }
    }

    struct Step {
        let node: Node
        let op: any Operator
        let inputs: [Int]     // -1 for omitted
        let outputs: [Int]    // -1 for omitted
        let release: [Int]    // slots dead after this step
    }

    public init(graph: Graph) throws {
        MemoryPolicy.configure()
        var g = graph
        try g.sortTopologically()
        self.graph = g
        self.ops = OperatorCache(opset: g.opset, domainOpsets: g.domainOpsets)
        // Build every operator now, so unsupported ops fail at load time.
        for n in g.nodes { _ = try ops.op(for: n) }
    }

    /// The concrete type of each graph input for the given feeds, checked against declared shapes.
    func inputTypes(_ feeds: [String: Tensor]) throws -> [String: TensorType] {
        var types: [String: TensorType] = [:]
        for input in graph.inputs {
            guard let t = feeds[input.name] else {
                let names = graph.inputs.map { "'\($0.name)'" }.joined(separator: ", ")
                throw LoupeError(.invalidArgument, "no value given for graph input '\(input.name)' (inputs: \(names))")
            }
            if let dims = input.dims {
                let ok = dims.count == t.shape.count && zip(dims, t.shape).allSatisfy { d, s in d.value == nil || d.value == s }
                guard ok else {
                    throw LoupeError.shape("input '\(input.name)' has shape \(describe(t.shape)) but the model declares [\(dims.map(\.description).joined(separator: ", "))]")
                }
            }
            if input.dtype != t.dtype && !(input.dtype.isFloatingPoint && t.isFloat) {
                throw LoupeError.shape("input '\(input.name)' has dtype \(t.dtype.name) but the model declares \(input.dtype.name)")
            }
            types[input.name] = TensorType(t.dtype, t.shape)
        }
        return types
    }

    /// The plan for these input types (cached), keeping `keep` tensors alive and reachable.
    /// `fuse` (inference plans: `run`) folds BatchNorm into the convolutions before them,
    /// fuses residual adds and activations into their producers, except across the tensors
    /// in `keep`. `fuseResiduals: false` leaves the residual adds as `Add` nodes (incremental
    /// inference needs them: it recomputes regions of each addend, docs/explanations.md).
    /// `carryLayouts` (with `fuse`; `run` sets it) keeps activations in oneDNN's layouts
    /// between the ops that take them (`markCarriedLayouts`, docs/engine.md): only the plan's
    /// graph outputs and `keep` tensors are then guaranteed NCHW, so callers that read other
    /// slots of the plan must not set it.
    public func plan(for types: [String: TensorType], values: [String: Tensor] = [:],
                     keep: Set<String> = [], fuse: Bool = false, fuseResiduals: Bool = true,
                     carryLayouts: Bool = false) throws -> Plan {
        let carry = fuse && carryLayouts && Self.carryingEnabled
        let key = (fuse ? (fuseResiduals ? "fused|" : "fused-no-residual|") : "") + (carry ? "carried|" : "") + types.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ";")
            + "|" + values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.floats)\($0.value.ints)" }.joined(separator: ";")
            + "|" + keep.sorted().joined(separator: ",")
        if let p = plans.value[key] { return p }
        // Made outside the lock: two threads asking for a new plan at once both make it, and
        // the first stored is kept, so every caller of one key gets the same plan.
        var g = graph
        for (name, v) in values {
            g.initializers[name] = v
            g.inputs.removeAll { $0.name == name }
        }
        var t = try g.foldConstants(inputTypes: types, ops: ops)
        g.eliminateDeadNodes(keeping: keep)
        if fuse {
            // Inference plans only, on the plan's copy of the graph; never across a tensor in
            // `keep` (docs/engine.md, "What is fused").
            if try !g.foldBatchNormalizations(keeping: keep).isEmpty { g.eliminateDeadNodes(keeping: keep) }
            // Before fuseActivations: an Add with a fused activation is no longer a residual add.
            if fuseResiduals { g.fuseResidualAdds(keeping: keep, types: t) }
            g.fuseActivations(keeping: keep)
            if carry { g.markCarriedLayouts(keeping: keep, types: t) }
        }
        for (k, v) in g.initializers where t[k] == nil { t[k] = TensorType(v.dtype, v.shape) }

        var slotOf: [String: Int] = [:]
        func slot(_ name: String) -> Int {
            if let s = slotOf[name] { return s }
            slotOf[name] = slotOf.count
            return slotOf.count - 1
        }
        for i in g.inputs { _ = slot(i.name) }
        var constants: [(Int, Tensor)] = []
        for (k, v) in g.initializers { constants.append((slot(k), v)) }
        var lastUse: [Int: Int] = [:]
        var raw: [(Node, [Int], [Int])] = []
        for (si, n) in g.nodes.enumerated() {
            let ins = n.inputs.map { $0.isEmpty ? -1 : slot($0) }
            let outs = n.outputs.map { $0.isEmpty ? -1 : slot($0) }
            for s in ins where s >= 0 { lastUse[s] = si }
            for s in outs where s >= 0 && lastUse[s] == nil { lastUse[s] = si }
            raw.append((n, ins, outs))
        }
        var pinned = Set(g.outputs.map(\.name)).union(keep).compactMap { slotOf[$0] }
        pinned.append(contentsOf: g.initializers.keys.compactMap { slotOf[$0] })
        let pinnedSet = Set(pinned)
        var releaseAt = [[Int]](repeating: [], count: g.nodes.count)
        for (s, step) in lastUse where !pinnedSet.contains(s) { releaseAt[step].append(s) }
        let steps = try raw.enumerated().map { i, r in
            Step(node: r.0, op: try ops.op(for: r.0), inputs: r.1, outputs: r.2, release: releaseAt[i])
        }
        let p = Plan(graph: g, types: t, steps: steps, slotOf: slotOf, slotCount: slotOf.count, constants: constants,
                     carriesLayouts: carry)
        return plans.mutate { cache in
            if let first = cache[key] { return first }
            cache[key] = p
            return p
        }
    }

    /// The plan for these feeds: shape-like feeds (see `isShapeLike`) become constants.
    func plan(feeds: [String: Tensor], keep: Set<String>, fuse: Bool, fuseResiduals: Bool = true,
              carryLayouts: Bool = false) throws -> Plan {
        var values: [String: Tensor] = [:]
        // A feed that is kept or differentiated stays a real input, however small.
        for i in graph.inputs where !keep.contains(i.name) {
            if let t = feeds[i.name], Self.isShapeLike(t) { values[i.name] = t }
        }
        return try plan(for: try inputTypes(feeds), values: values, keep: keep, fuse: fuse, fuseResiduals: fuseResiduals,
                        carryLayouts: carryLayouts)
    }

    /// Runs the plan's steps and returns every slot; after step i the slots `releasing(i)`
    /// are dropped.
    func forward(_ p: Plan, _ feeds: [String: Tensor], releasing: (Int) -> [Int],
                 progress: ((Int, Int) -> Void)? = nil) throws -> [Tensor?] {
        var slots = [Tensor?](repeating: nil, count: p.slotCount)
        for (s, v) in p.constants { slots[s] = v }
        for i in p.graph.inputs { slots[p.slotOf[i.name]!] = feeds[i.name] }
        for (si, step) in p.steps.enumerated() {
            var ins: [Tensor?] = step.inputs.map { $0 < 0 ? nil : slots[$0] }
            let outs: [Tensor]
            let t0 = Profile.enabled ? DispatchTime.now().uptimeNanoseconds : 0
            do {
                // An op that does not take a carried layout gets NCHW copies (the boundary).
                if p.carriesLayouts, ins.contains(where: { $0?.isCarried == true }), !step.op.acceptsCarried(ins) {
                    ins = try ins.map { try $0?.plain() }
                }
                outs = try step.op.forward(ins)
            } catch let e as LoupeError {
                throw LoupeError(e.kind, "\(step.node.label) with inputs (\(describeInputs(ins))): \(e.message)")
            }
            if Profile.enabled { Profile.add(Profile.byNode ? step.node.name : step.node.opType, DispatchTime.now().uptimeNanoseconds - t0) }
            for (i, s) in step.outputs.enumerated() where s >= 0 {
                guard i < outs.count else {
                    throw LoupeError.invalid("\(step.node.label) produced \(outs.count) outputs, the graph expects \(step.outputs.count)")
                }
                slots[s] = outs[i]
            }
            for s in releasing(si) { slots[s] = nil }
            progress?(si + 1, p.steps.count)
        }
        return slots
    }

    /// Graph inputs small enough to be shape-like (at most 64 elements, integer or rank ≤ 1:
    /// a Reshape target, Resize scales, Clip bounds) are folded into the plan as constants,
    /// so that shape inference sees their values; the plan is then specific to those values.
    static func isShapeLike(_ t: Tensor) -> Bool { t.count <= 64 && (!t.isFloat || t.rank <= 1) }

    /// Runs the graph. Returns the graph outputs plus every tensor named in `keep`.
    /// `fused`: the inference plan (BatchNorm folded, activations fused, layouts carried),
    /// whose operators gradient plans share (`gradients`); false runs every node on its own,
    /// on NCHW tensors (as `gradients(..., fused: false)` does).
    public func run(_ feeds: [String: Tensor], keep: Set<String> = [], fused: Bool = true,
                    progress: ((Int, Int) -> Void)? = nil) throws -> [String: Tensor] {
        let p = try plan(feeds: feeds, keep: keep, fuse: fused, carryLayouts: fused)
        let slots = try forward(p, feeds, releasing: { p.steps[$0].release }, progress: progress)
        var result: [String: Tensor] = [:]
        for name in p.graph.outputs.map(\.name) + keep.sorted() {
            guard let s = p.slotOf[name], let v = slots[s] else {
                throw LoupeError.invalid("tensor '\(name)' was not computed")
            }
            result[name] = try v.plain()
        }
        return result
    }
}

extension Executor {
    /// `LOUPE_CARRY_LAYOUTS=0` turns carried layouts off (every op boundary NCHW), to compare.
    static let carryingEnabled = ProcessInfo.processInfo.environment["LOUPE_CARRY_LAYOUTS"] != "0"
}

/// `float32[1, 3, 224, 224], none, ...` for error messages.
func describeInputs(_ ins: [Tensor?]) -> String {
    ins.map { $0.map { "\($0.dtype.name)\(describe($0.shape))" } ?? "none" }.joined(separator: ", ")
}

/// Per-op-type forward time, printed at exit when LOUPE_PROFILE=1 (a developer aid).
enum Profile {
    static let enabled = ProcessInfo.processInfo.environment["LOUPE_PROFILE"] != nil
    static let byNode = ProcessInfo.processInfo.environment["LOUPE_PROFILE"] == "nodes"
    static let totals = Locked<[String: (UInt64, Int)]>([:])

    static func add(_ op: String, _ ns: UInt64) {
        _ = printAtExit
        totals.mutate { totals in
            let (t, n) = totals[op] ?? (0, 0)
            totals[op] = (t + ns, n + 1)
        }
    }

    private static let printAtExit: Void = {
        atexit {
            let totals = Profile.totals.value
            let all = totals.values.reduce(0) { $0 + $1.0 }
            let (reorderNs, reorders) = ReorderProfile.totals
            FileHandle.standardError.write(Data(String(format: "%-22@ %9.1f ms %5.1f%% %7d calls (inside the nodes below)\n", "oneDNN reorders" as NSString, Double(reorderNs) / 1e6, 100 * Double(reorderNs) / Double(max(all, 1)), reorders).utf8))
            for (op, (t, n)) in totals.sorted(by: { $0.value.0 > $1.value.0 }) {
                FileHandle.standardError.write(Data(String(format: "%-22@ %9.1f ms %5.1f%% %7d calls\n", op as NSString, Double(t) / 1e6, 100 * Double(t) / Double(max(all, 1)), n).utf8))
            }
        }
    }()
}
