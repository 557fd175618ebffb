import LoupeTensor

/// The projective field of a change to the image input: for each tensor of a graph, the
/// positions whose value can change when a region of the input changes. It is the forward
/// counterpart of the receptive field (`ReceptiveField.swift`), as used for incremental
/// inference by Nakandala, Kumar and Papakonstantinou, "Incremental and Approximate Inference
/// for Faster Occlusion-based Deep CNN Explanations", SIGMOD 2019 (section 3).
///
/// Regions are rectangles on the spatial axes (H, W) of `[N, C, H, W]` tensors, channels
/// whole. Rules (`ProjectiveField+Ops.swift`): a convolution or pooling window maps the
/// changed range [a, b] of an axis to the outputs whose window touches it,
/// ⌈(a + padBegin − (k − 1)·d) / s⌉ … ⌊(b + padBegin) / s⌋, clipped to the output;
/// element-wise ops (residual additions included) and a Concat over channels take the union
/// of their inputs' regions. Any other op reading a changed tensor (global pooling, Gemm or
/// MatMul on flattened tensors, Reshape, Softmax, an unknown op), or an element-wise op
/// broadcasting a changed tensor over space, changes its whole output: `whole`, from which
/// on the graph runs in full.
///
/// The approximate mode's projective-field threshold τ (Nakandala et al., section 4.1)
/// truncates, per spatial axis, every region longer than ⌈τ·n⌉ positions (n the axis length)
/// to that length around its centre before propagating further; τ = 1 is exact.
public struct ProjectiveField: Sendable {
    /// Closed ranges of rows and columns.
    public struct Region: Sendable, Equatable, CustomStringConvertible {
        public var y: ClosedRange<Int>
        public var x: ClosedRange<Int>
        public init(y: ClosedRange<Int>, x: ClosedRange<Int>) {
            self.y = y
            self.x = x
        }
        public var height: Int { y.count }
        public var width: Int { x.count }
        public var description: String { "rows \(y.lowerBound)…\(y.upperBound), columns \(x.lowerBound)…\(x.upperBound)" }

        func union(_ o: Region) -> Region {
            Region(y: min(y.lowerBound, o.y.lowerBound)...max(y.upperBound, o.y.upperBound),
                   x: min(x.lowerBound, o.x.lowerBound)...max(x.upperBound, o.x.upperBound))
        }
    }

    /// How far the changes reach into one tensor.
    public enum Reach: Sendable, Equatable {
        /// No change reaches it (a constant, or a tensor that does not depend on the input).
        case unchanged
        /// Change i reaches `regions[i]` of the tensor (nil: none of it).
        case regions([Region?])
        /// Some change may reach any position: the tensor is computed in full.
        case whole
    }

    /// The graph analysed (in topological order) and its tensor types.
    public let graph: Graph
    public let types: [String: TensorType]
    /// The image input, `[N, C, H, W]`.
    public let input: String
    /// The changed regions of the input, one per change (occlusion window).
    public let changes: [Region]
    /// The projective-field threshold τ in (0, 1]; 1 is exact.
    public let threshold: Double
    /// The reach of every tensor computed from the input; absent tensors are unchanged.
    public private(set) var reach: [String: Reach] = [:]

    /// Propagates `changes` of `input` through `graph` (already specialised: constants folded,
    /// `types` inferred, as an `Executor.Plan` has them).
    public init(graph: Graph, types: [String: TensorType], input: String, changes: [Region], threshold: Double = 1) throws {
        guard threshold > 0, threshold <= 1 else {
            throw LoupeError(.invalidArgument, "the projective-field threshold must be in (0, 1], got \(threshold)")
        }
        guard let t = types[input], t.shape.count == 4 else {
            throw LoupeError.shape("the input '\(input)' has shape \(describe(types[input]?.shape ?? [])); projective fields need [N, C, H, W]")
        }
        for r in changes where r.y.lowerBound < 0 || r.x.lowerBound < 0 || r.y.upperBound >= t.shape[2] || r.x.upperBound >= t.shape[3] {
            throw LoupeError(.invalidArgument, "the changed region (\(r)) is not inside the \(t.shape[2])x\(t.shape[3]) input")
        }
        self.graph = graph
        self.types = types
        self.input = input
        self.changes = changes
        self.threshold = threshold
        reach[input] = .regions(changes)
        for node in graph.nodes {
            let ins = node.inputs.map { $0.isEmpty ? Reach.unchanged : (reach[$0] ?? .unchanged) }
            guard ins.contains(where: { $0 != .unchanged }) else { continue }
            let out: Reach
            do {
                out = try forward(node, ins)
            } catch let e as LoupeError {
                throw e.message.hasPrefix(node.label) ? e : e.context(node.label)
            }
            for (i, name) in node.outputs.enumerated() where !name.isEmpty {
                reach[name] = i == 0 ? truncated(out, name) : .whole
            }
        }
    }

    /// The reach of `tensor` (unchanged when no change reaches it).
    public func reach(of tensor: String) -> Reach { reach[tensor] ?? .unchanged }

    /// The fixed patch size of a tensor reached by regions: the largest height and width over
    /// the changes, so that every change's patch has one shape and a batch of them is one tensor.
    public func patchSize(of tensor: String) -> (Int, Int)? {
        guard case .regions(let rs) = reach(of: tensor) else { return nil }
        let h = rs.compactMap { $0?.height }.max() ?? 1, w = rs.compactMap { $0?.width }.max() ?? 1
        return (h, w)
    }

    /// The top-left corner of change i's patch in `tensor`: its region's corner, moved back
    /// where the fixed-size patch would stick out past the tensor's end.
    public func patchOrigin(of tensor: String, change i: Int) -> (Int, Int)? {
        guard case .regions(let rs) = reach(of: tensor), let (h, w) = patchSize(of: tensor),
              let shape = types[tensor]?.shape else { return nil }
        let r = rs[i] ?? Region(y: 0...0, x: 0...0)
        return (max(0, min(r.y.lowerBound, shape[2] - h)), max(0, min(r.x.lowerBound, shape[3] - w)))
    }

    /// Regions longer than ⌈τ·n⌉ on an axis cut to that length around their centre.
    func truncated(_ r: Reach, _ tensor: String) -> Reach {
        guard threshold < 1, case .regions(let rs) = r, let s = types[tensor]?.shape, s.count == 4 else { return r }
        func cut(_ range: ClosedRange<Int>, _ n: Int) -> ClosedRange<Int> {
            let limit = max(1, Int((threshold * Double(n)).rounded(.up)))
            guard range.count > limit else { return range }
            let start = range.lowerBound + (range.count - limit) / 2
            return start...(start + limit - 1)
        }
        return .regions(rs.map { $0.map { Region(y: cut($0.y, s[2]), x: cut($0.x, s[3])) } })
    }
}
