import LoupeTensor

/// Pad: grows (or, with negative pads, crops) each axis. `pads` = [x1_begin, x2_begin, …,
/// x1_end, x2_end, …]; `mode` is constant (default, value `value`/`constant_value`, 0 by
/// default), reflect (mirror without repeating the edge), edge (repeat the edge) or wrap
/// (opset 19, periodic). Opset 1 names the attribute `paddings`; opsets 2–10 read `pads` and
/// `value` attributes; from 11 they are inputs 1 and 2, and opset 18 adds input 3, `axes`.
///
/// Kernel: one index map per axis (-1 = constant) run through `Movement.gatherAxes`.
public struct Pad: Operator {
    public static let opType = "Pad"
    let mode: String
    let padsAttribute: [Int]?
    let valueAttribute: Float
    let fromInputs: Bool

    public init(_ context: OpContext) throws {
        let a = context.attributes
        mode = try a.string("mode", "constant")
        guard ["constant", "reflect", "edge", "wrap"].contains(mode) else {
            throw LoupeError.unsupported("Pad mode '\(mode)'")
        }
        fromInputs = context.opset >= 11
        padsAttribute = fromInputs ? nil : try a.ints(context.opset == 1 ? "paddings" : "pads") ?? a.ints("pads")
        valueAttribute = try a.float("value", 0)
        if !fromInputs && padsAttribute == nil {
            throw LoupeError.invalid("Pad (opset \(context.opset)) needs a 'pads' attribute")
        }
    }

    /// Begin and end pads for every axis of `shape`.
    func pads(_ shape: [Int], _ values: [Tensor?]) throws -> (begin: [Int], end: [Int]) {
        let r = shape.count
        var list: [Int]
        var axes = Array(0..<r)
        if fromInputs {
            guard values.count > 1, let p = values[1] else {
                throw LoupeError.unsupported("Pad needs a constant 'pads' input")
            }
            list = try Movement.ints(p, "pads")
            if values.count > 3, let a = values[3] {
                axes = try Movement.axes(try Movement.ints(a, "axes"), rank: r)
            }
        } else {
            list = padsAttribute ?? []
        }
        guard list.count == 2 * axes.count else {
            throw LoupeError.invalid("Pad pads \(list) should have \(2 * axes.count) values for input \(describe(shape))")
        }
        // Bound every pad before any arithmetic: a file can hold values near Int64.max.
        for v in list where v > Tensor.maxElements || v < -Tensor.maxElements {
            throw LoupeError(.tooLarge, "Pad pads \(list) hold a value beyond \(Tensor.maxElements)")
        }
        var begin = [Int](repeating: 0, count: r), end = begin
        for (k, d) in axes.enumerated() {
            begin[d] = list[k]
            end[d] = list[k + axes.count]
            guard shape[d] + begin[d] + end[d] >= 0 else {
                throw LoupeError.shape("Pad pads \(list) crop more than axis \(d) of \(describe(shape)) holds")
            }
        }
        try Tensor.checkedCount((0..<r).map { shape[$0] + begin[$0] + end[$0] })
        return (begin, end)
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        let (b, e) = try pads(x.shape, constants)
        return [TensorType(x.dtype, (0..<x.shape.count).map { x.shape[$0] + b[$0] + e[$0] })]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        let (b, e) = try pads(x.shape, inputs)
        var value = Double(valueAttribute)
        if fromInputs, inputs.count > 2, let c = inputs[2], c.count > 0 {
            value = c.isFloat ? Double(c.floats[0]) : Double(c.ints[0])
        }
        let maps = try (0..<x.rank).map { d in
            try Self.indexMap(size: x.shape[d], begin: b[d], end: e[d], mode: mode)
        }
        return [try Movement.gatherAxes(x, maps: maps, fill: value)]
    }


    /// Backward: each input element receives the gradients of every output that copied it —
    /// only its own interior position in constant mode, plus its mirror images (reflect),
    /// the replicated border (edge) or the periodic copies (wrap). Cropped elements (negative
    /// pads) get zero. A float `constant_value` input (opset 11+) receives the sum of the
    /// gradients of the padded positions in constant mode. None for pads and axes.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        let x = try required(inputs, 0)
        let (b, e) = try pads(x.shape, inputs)
        let maps = try (0..<x.rank).map { d in
            try Self.indexMap(size: x.shape[d], begin: b[d], end: e[d], mode: mode)
        }
        let g = try Movement.gradient(gradients, 0, shape: maps.map(\.count))
        let dx = try Movement.scatterAxes(g, maps: maps, into: x.shape)
        var result = Movement.onlyFirst(wanted.first == true ? dx : nil, inputs.count)
        if fromInputs, inputs.count > 2, wanted.count > 2, wanted[2], let c = inputs[2], c.isFloat {
            var dc = try Tensor(zeros: c.shape)
            if mode == "constant" && c.count > 0 {
                // Every output is either the copy of one input element or the constant.
                let total = g.floats.reduce(0.0) { $0 + Double($1) }, interior = dx.floats.reduce(0.0) { $0 + Double($1) }
                dc.floats[0] = Float(total - interior)
            }
            result[2] = dc
        }
        return result
    }

    /// Source index for each output position of one axis (-1 = the constant).
    static func indexMap(size n: Int, begin: Int, end: Int, mode: String) throws -> [Int] {
        let count = n + begin + end
        if mode != "constant" && n == 0 && count > 0 {
            throw LoupeError.shape("Pad mode '\(mode)' cannot pad an empty axis")
        }
        return (0..<count).map { o in
            let i = o - begin
            if i >= 0 && i < n { return i }
            switch mode {
            case "edge":
                return min(max(i, 0), n - 1)
            case "wrap":
                return ((i % n) + n) % n
            case "reflect":
                if n == 1 { return 0 }
                let period = 2 * (n - 1)
                let m = ((i % period) + period) % period
                return m < n ? m : period - m
            default:
                return -1
            }
        }
    }
}
