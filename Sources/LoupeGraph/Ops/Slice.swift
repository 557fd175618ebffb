import LoupeTensor

/// Slice: data[starts:ends:steps] along `axes`. Before opset 10 `starts`, `ends` and `axes`
/// are attributes (steps 1); from 10 they are inputs 1–4 (`axes`, `steps` optional).
/// Negative starts/ends count from the back; all are clamped (to [0, dim] for positive steps,
/// [-1, dim-1] for negative ones), so INT64_MAX/INT64_MIN mean "to the end".
///
/// Kernel: a strided view (offset start·stride, stride·step) copied by `Movement.copyStrided`.
public struct Slice: Operator {
    public static let opType = "Slice"
    let attributeStarts: [Int]?
    let attributeEnds: [Int]?
    let attributeAxes: [Int]?
    let fromInputs: Bool

    public init(_ context: OpContext) throws {
        let a = context.attributes
        fromInputs = context.opset >= 10
        attributeStarts = fromInputs ? nil : try a.ints("starts")
        attributeEnds = fromInputs ? nil : try a.ints("ends")
        attributeAxes = fromInputs ? nil : try a.ints("axes")
        if !fromInputs && (attributeStarts == nil || attributeEnds == nil) {
            throw LoupeError.invalid("Slice (opset \(context.opset)) needs 'starts' and 'ends' attributes")
        }
    }

    /// The view of `shape` selected by the parameters: output shape, per-axis start and step.
    func view(_ shape: [Int], _ values: [Tensor?]) throws -> (shape: [Int], starts: [Int], steps: [Int]) {
        var starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?
        if fromInputs {
            guard values.count > 2, let s = values[1], let e = values[2] else {
                throw LoupeError.unsupported("Slice needs constant 'starts' and 'ends' inputs")
            }
            starts = try Movement.ints(s, "starts")
            ends = try Movement.ints(e, "ends")
            axes = try values.count > 3 ? values[3].map { try Movement.ints($0, "axes") } : nil
            steps = try values.count > 4 ? values[4].map { try Movement.ints($0, "steps") } : nil
        } else {
            starts = attributeStarts ?? []
            ends = attributeEnds ?? []
            axes = attributeAxes
            steps = nil
        }
        let r = shape.count
        let ax = try Movement.axes(axes ?? Array(0..<starts.count), rank: r)
        let st = steps ?? [Int](repeating: 1, count: starts.count)
        guard ends.count == starts.count, ax.count == starts.count, st.count == starts.count else {
            throw LoupeError.invalid("Slice starts \(starts), ends \(ends), axes \(axes ?? []), steps \(st) differ in length")
        }
        var outShape = shape
        var first = [Int](repeating: 0, count: r)
        var step = [Int](repeating: 1, count: r)
        for k in 0..<ax.count {
            let d = ax[k], n = shape[d]
            guard st[k] != 0 else { throw LoupeError.invalid("Slice step is 0 on axis \(d)") }
            // A step longer than the axis selects at most one element: clamping it keeps the
            // arithmetic below from overflowing on hostile values such as Int64.max.
            let s = max(min(st[k], n + 1), -(n + 1))
            var b = starts[k], e = ends[k]
            if b < 0 { b += n }
            if e < 0 { e += n }
            let count: Int
            if s > 0 {
                b = min(max(b, 0), n)
                e = min(max(e, 0), n)
                count = e > b ? (e - b + s - 1) / s : 0
            } else {
                b = min(max(b, -1), n - 1)
                e = min(max(e, -1), n - 1)
                count = b > e ? (b - e - s - 1) / (-s) : 0
            }
            outShape[d] = count
            first[d] = count > 0 ? b : 0
            step[d] = s
        }
        return (outShape, first, step)
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        return [TensorType(x.dtype, try view(x.shape, constants).shape)]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        let (shape, starts, steps) = try view(x.shape, inputs)
        if shape == x.shape && steps.allSatisfy({ $0 == 1 }) { return [x] }
        let s = contiguousStrides(x.shape)
        var offset = 0
        for d in 0..<x.rank { offset += starts[d] * s[d] }
        return [try Movement.strided(x, shape: shape, strides: (0..<x.rank).map { s[$0] * steps[$0] }, offset: offset)]
    }

    /// Backward: the output gradient written back into the sliced positions (steps of either
    /// sign pick distinct elements); zero elsewhere. None for starts, ends, axes, steps.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        guard wanted.first == true else { return Movement.onlyFirst(nil, inputs.count) }
        let x = try required(inputs, 0)
        let (shape, starts, steps) = try view(x.shape, inputs)
        let g = try Movement.gradient(gradients, 0, shape: shape)
        if shape == x.shape && steps.allSatisfy({ $0 == 1 }) { return Movement.onlyFirst(g, inputs.count) }
        let s = contiguousStrides(x.shape)
        var offset = 0
        for d in 0..<x.rank { offset += starts[d] * s[d] }
        let dx = try Movement.stridedAdjoint(g, into: x.shape, strides: (0..<x.rank).map { s[$0] * steps[$0] }, offset: offset)
        return Movement.onlyFirst(dx, inputs.count)
    }
}
