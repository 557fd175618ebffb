import LoupeTensor

/// The receptive field of one unit of a layer: the input pixels it depends on, per spatial axis
/// of the graph's image input (H, W for an `[N, C, H, W]` input).
///
/// Definitions (Araujo, Norris and Sim, "Computing Receptive Fields of Convolutional Neural
/// Networks", Distill 2019, give the forward recurrences for chains; here every path counts):
/// - `size`: the extent of the field of unit (0, 0), in input pixels, from its first to its last
///   pixel, not clipped to the input. Padding (a Conv's `pads`, a Pad node) and positions a
///   Resize reads beyond the border extend the input virtually, so every unit of a layer has a
///   field of the same size, whatever its position.
/// - `offset`: the input coordinate of the centre of that field, pixel k being at coordinate k
///   (so a 7×7 convolution with pads 3 gives unit 0 the field −3…3 and offset 0).
/// - `stride`: the distance in input pixels between the fields of neighbouring units (the
///   product of the strides on the way, divided by any upsampling factor); it can be
///   fractional after ConvTranspose or Resize.
///
/// The field is the union over all paths from the input (residual additions, concatenations,
/// branches of different kernel sizes): the bounding box of every input pixel on which the unit
/// depends structurally. Inside that box a dilated convolution, or a stride larger than the
/// window, leaves holes.
public struct ReceptiveField: Sendable, Equatable {
    /// One spatial axis of the field; nil in `axes` when the unit depends on the whole axis
    /// (after a global pool, a flatten into a fully connected layer, a reduction over it).
    public struct Axis: Sendable, Equatable {
        /// First and last input pixel of the field of unit 0, unclipped.
        public var first: Int
        public var last: Int
        /// Input pixels between the fields of unit k and k + 1.
        public var stride: Double
        public var size: Int { last - first + 1 }
        public var offset: Double { Double(first + last) / 2 }
    }

    /// One entry per spatial axis of the input, in order (H, W).
    public var axes: [Axis?]
    /// False when the field's size changes from unit to unit: branches with different strides
    /// meet (a union), or an upsampling's phase matters. `axes` then describes unit (0, 0).
    public var uniform: Bool

    /// True when the field is finite along every axis.
    public var isFinite: Bool { axes.allSatisfy { $0 != nil } }
}

/// Computes receptive fields over a graph with concrete input shapes: constant subgraphs are
/// folded first (so shape chains and Resize scales are known), then, for a unit of a tensor,
/// the positions it depends on are carried backward node by node to the input, as boxes (one
/// range per axis of each tensor; `ReceptiveField+Ops.swift` has the rule of each op).
public struct ReceptiveFieldAnalysis: Sendable {
    /// The graph after constant folding, in topological order.
    public let graph: Graph
    public let types: [String: TensorType]
    /// The image input the fields are measured in, `[N, C, spatial...]`.
    public let input: String
    let ops: OperatorCache
    let producer: [String: Int]

    /// `input` names the image input (default: the only graph input, or the only one of rank
    /// 3 or more that some node reads as its first input, weights being graph inputs too).
    /// Channels-last inputs must be given as NCHW (a Transpose to NHWC inside the graph is
    /// fine: the field follows it).
    public init(graph: Graph, inputTypes: [String: TensorType], input: String? = nil) throws {
        var g = graph
        try g.sortTopologically()
        let ops = OperatorCache(opset: g.opset, domainOpsets: g.domainOpsets)
        types = try g.foldConstants(inputTypes: inputTypes, ops: ops)
        self.graph = g
        self.ops = ops
        producer = g.producers()
        if let input {
            guard g.inputs.contains(where: { $0.name == input }) else {
                throw LoupeError(.invalidArgument, "'\(input)' is not a graph input (inputs: \(g.inputs.map(\.name).joined(separator: ", ")))")
            }
            self.input = input
        } else {
            // Weights can be graph inputs too; the image is what a node reads first.
            let firstInputs = Set(g.nodes.compactMap(\.inputs.first))
            let images = g.inputs.filter { (inputTypes[$0.name]?.shape.count ?? 0) >= 3 && firstInputs.contains($0.name) }
            guard let only = g.inputs.count == 1 ? g.inputs.first : (images.count == 1 ? images.first : nil) else {
                throw LoupeError(.invalidArgument, "receptive fields need one image input; this model has \(g.inputs.count) (\(g.inputs.map(\.name).joined(separator: ", ")))")
            }
            self.input = only.name
        }
        guard let t = types[self.input], t.shape.count >= 3 else {
            throw LoupeError.shape("the input '\(self.input)' has shape \(describe(types[self.input]?.shape ?? [])); receptive fields need [N, C, spatial...]")
        }
    }

    /// Spatial axes of the input: 2 ..< rank.
    var inputSpatialAxes: [Int] { Array(2..<(types[input]!.shape.count)) }

    /// The receptive field of unit (0, 0) of `tensor`. The tensor's spatial axes are found by
    /// what they depend on: axis a (not the batch) is spatial for input axis k when fixing a
    /// and the batch gives a finite field along k alone; every other axis (channels) is taken
    /// whole, so the field is the union over channels. A tensor of rank ≤ 2 has no spatial
    /// axes: its field is not finite.
    public func field(of tensor: String) throws -> ReceptiveField {
        guard let t = types[tensor] else {
            throw LoupeError(.invalidArgument, "no tensor named '\(tensor)' in the graph")
        }
        let (axisFor, base) = try spatialAxes(of: tensor, rank: t.shape.count)
        let spatial = inputSpatialAxes
        func unit(_ u: Int) -> Box {
            var b = base
            for a in axisFor.values { b[a] = .range(u, u) }
            return b
        }
        guard let first = try dependency(of: tensor, box: unit(0)) else {
            throw LoupeError(.invalidArgument, "'\(tensor)' does not depend on the input '\(input)'")
        }
        // A far unit (a virtual one: the arithmetic is not clipped) gives the stride exactly
        // whenever the pattern of strides and upsampling factors repeats within `far` units.
        let far = 40_320
        let probeFar = try dependency(of: tensor, box: unit(far))
        var uniform = true
        let axes: [ReceptiveField.Axis?] = spatial.map { k in
            guard axisFor[k] != nil, case .range(let lo, let hi) = first[k] else { return nil }
            guard case .range(let flo, let fhi)? = probeFar?[k] else { uniform = false; return nil }
            if fhi - flo != hi - lo { uniform = false }
            return ReceptiveField.Axis(first: lo, last: hi, stride: Double(flo + fhi - lo - hi) / 2 / Double(far))
        }
        return ReceptiveField(axes: axes, uniform: uniform)
    }

    /// Which axis of `tensor` drives which spatial input axis, and the box of a unit with
    /// those axes still to fill in (batch 0, other axes whole).
    func spatialAxes(of tensor: String, rank: Int) throws -> (axisFor: [Int: Int], base: Box) {
        let base: Box = (0..<rank).map { $0 == 0 && rank >= 2 ? .range(0, 0) : .all }
        var axisFor: [Int: Int] = [:]
        // A tensor of rank 2 or less ([N, features]) has no spatial axes; an axis that drives
        // two input axes at once (a flattened H·W) is not one either.
        for a in (rank >= 3 ? 1 : rank)..<rank {
            var probe = base
            probe[a] = .range(0, 0)
            guard let box = try dependency(of: tensor, box: probe) else { continue }
            let driven = inputSpatialAxes.filter { if case .range = box[$0] { true } else { false } }
            if driven.count == 1, axisFor[driven[0]] == nil { axisFor[driven[0]] = a }
        }
        return (axisFor, base)
    }

    /// The input pixels a real unit of `tensor` reads, per spatial input axis (nil: the whole
    /// axis, or no pixel at all when every entry is nil), with every tensor on the way clipped
    /// to its extent: near the borders this is smaller than the field moved by `unit` strides,
    /// since padding depends on no pixel. `unit` gives one position per spatial input axis.
    public func inputRegion(of tensor: String, unit: [Int]) throws -> [ClosedRange<Int>?] {
        guard let t = types[tensor] else {
            throw LoupeError(.invalidArgument, "no tensor named '\(tensor)' in the graph")
        }
        let (axisFor, base) = try spatialAxes(of: tensor, rank: t.shape.count)
        var b = base
        for (k, ik) in inputSpatialAxes.enumerated() where k < unit.count {
            if let a = axisFor[ik] { b[a] = .range(unit[k], unit[k]) }
        }
        guard let box = try dependency(of: tensor, box: b, clipped: true) else {
            return inputSpatialAxes.map { _ in nil }
        }
        return inputSpatialAxes.map { k in
            if case .range(let lo, let hi) = box[k] { lo...hi } else { nil }
        }
    }

    /// The box of input positions the positions `box` of `tensor` depend on (nil: none).
    /// `clipped` keeps only positions inside each tensor.
    func dependency(of tensor: String, box: Box, clipped: Bool = false) throws -> Box? {
        if tensor == input { return box }
        var demand: [String: Box] = [tensor: box]
        guard let last = producer[tensor] else { return nil }
        for i in stride(from: last, through: 0, by: -1) {
            let node = graph.nodes[i]
            let outs = node.outputs.map { $0.isEmpty ? nil : demand[$0] }
            guard outs.contains(where: { $0 != nil }) else { continue }
            let ins: [Box?]
            do {
                ins = try backward(node, outs)
            } catch let e as LoupeError {
                throw e.message.hasPrefix(node.label) ? e : e.context(node.label)
            }
            for (name, b) in zip(node.inputs, ins) where !name.isEmpty && graph.initializers[name] == nil {
                guard var b else { continue }
                if clipped, let shape = types[name]?.shape, shape.count == b.count {
                    b = zip(b, shape).map { span, n in
                        guard case .range(let lo, let hi) = span else { return span }
                        return .range(max(lo, 0), min(hi, n - 1))
                    }
                    if b.contains(where: \.isEmpty) { continue }
                }
                demand[name] = demand[name].map { union($0, b) } ?? b
            }
        }
        return demand[input]
    }
}

/// One axis of a box of tensor positions: a closed range (possibly outside the tensor: padding
/// and virtual units), or every position of the axis.
enum Span: Sendable, Equatable {
    case range(Int, Int)
    case all
}

typealias Box = [Span]

func union(_ a: Span, _ b: Span) -> Span {
    guard case .range(let l1, let h1) = a, case .range(let l2, let h2) = b else { return .all }
    return .range(min(l1, l2), max(h1, h2))
}

func union(_ a: Box, _ b: Box) -> Box {
    guard a.count == b.count else { return a.count > b.count ? a.map { _ in .all } : b.map { _ in .all } }
    return zip(a, b).map { union($0, $1) }
}

extension Span {
    /// The span with both ends mapped by a monotone non-decreasing function.
    func mapped(_ f: (Int) -> Int) -> Span {
        guard case .range(let lo, let hi) = self else { return .all }
        return .range(f(lo), f(hi))
    }
    func mapped(lo f: (Int) -> Int, hi g: (Int) -> Int) -> Span {
        guard case .range(let lo, let hi) = self else { return .all }
        return .range(f(lo), g(hi))
    }
}
