import LoupeTensor

/// The forward rule of each op for projective fields, and how a region of its output is
/// recomputed (`ProjectiveField+Inference.swift`). Ops without a rule change their whole output.
extension ProjectiveField {
    /// How an op computes a region of its output from regions of its inputs.
    enum Rule {
        /// A 2-D convolution or pooling window: the region reads a window of input 0 with the
        /// geometry's halo; positions outside the input read `padValue` (0 for convolutions,
        /// −∞ for max pooling), which is what the op's own padding adds.
        case window(ConvGeometry, padValue: Float)
        /// Output position p reads position p of every input with the output's spatial size
        /// (element-wise ops, Concat over channels); other inputs are broadcast and unchanged.
        case pointwise
    }

    /// Element-wise ops whose output has its input's shape at the same positions: the receptive
    /// field's element-wise set, less Expand (it changes shapes), plus LRN (a window over channels only).
    static let pointwiseOps = ReceptiveFieldAnalysis.elementwise.subtracting(["Expand"]).union(["LRN"])

    /// The rule of `node` for inputs of `types`, or nil when a change reaches its whole output.
    static func rule(_ node: Node, types: [String: TensorType], opset: Int) throws -> Rule? {
        guard node.domain.isEmpty || node.domain == "ai.onnx", node.outputs.filter({ !$0.isEmpty }).count == 1,
              let out = types[node.outputs[0]]?.shape, out.count == 4,
              let x = node.inputs.first.flatMap({ types[$0]?.shape }), x.count == 4 else { return nil }
        let context = OpContext(node: node, opset: opset)
        switch node.opType {
        case "Conv":
            guard let w = types[node.inputs[1]]?.shape else { return nil }
            return .window(try Conv(context).resolve(x, w, nil), padValue: 0)
        case "MaxPool":
            return .window(try ConvAttributes(context, op: "MaxPool").poolGeometry(x), padValue: -.infinity)
        case "AveragePool", "LpPool":
            let a = try ConvAttributes(context, op: node.opType)
            let g = try a.poolGeometry(x)
            // Without count_include_pad the divisor depends on where the border is; with
            // ceil_mode the last windows' divisor too: these average pools run whole.
            let countsPadding = try context.attributes.int("count_include_pad", 0) != 0
            let padded = g.padsBegin.contains { $0 != 0 } || g.padsEnd.contains { $0 != 0 }
            if node.opType == "AveragePool" && ((padded && !countsPadding) || a.ceilMode) { return nil }
            return .window(g, padValue: 0)
        case "Concat":
            let axis = try normalizeAxis(try context.attributes.int("axis") ?? 0, rank: 4)
            return axis == 1 ? .pointwise : nil
        case _ where pointwiseOps.contains(node.opType):
            return .pointwise
        default:
            return nil
        }
    }

    /// The reach of `node`'s first output from its inputs' reach.
    func forward(_ node: Node, _ ins: [Reach]) throws -> Reach {
        guard !ins.contains(.whole), let rule = try Self.rule(node, types: types, opset: graph.opset),
              let out = types[node.outputs[0]]?.shape else { return .whole }
        switch rule {
        case .window(let g, _):
            guard case .regions(let rs) = ins[0] else { return .whole }
            for r in ins.dropFirst() where r != .unchanged { return .whole }   // changed weights
            return .regions(rs.map { r in
                guard let r else { return nil }
                func axis(_ range: ClosedRange<Int>, _ i: Int) -> ClosedRange<Int>? {
                    let s = g.strides[i], pb = g.padsBegin[i], span = (g.kernel[i] - 1) * g.dilations[i]
                    let lo = max(0, ceilDivide(range.lowerBound + pb - span, s))
                    let hi = min(out[2 + i] - 1, floorDivide(range.upperBound + pb, s))
                    return lo <= hi ? lo...hi : nil
                }
                guard let y = axis(r.y, 0), let x = axis(r.x, 1) else { return nil }
                return Region(y: y, x: x)
            })
        case .pointwise:
            var result: [Region?]? = nil
            for (name, r) in zip(node.inputs, ins) {
                guard case .regions(let rs) = r else { continue }
                // A changed input broadcast over space changes every position.
                guard let s = types[name]?.shape, s.count == 4, s[2] == out[2], s[3] == out[3] else { return .whole }
                result = result.map { zip($0, rs).map { a, b in a.map { a in b.map(a.union) ?? a } ?? b } } ?? rs
            }
            return result.map { .regions($0) } ?? .unchanged
        }
    }
}
