import LoupeTensor

/// Concat: joins the inputs along `axis` (default 1 in opset 1, required later; negative from 11).
/// Every input has the same rank and the same dimensions except along `axis`.
///
/// Kernel: with outer = Π shape[..<axis] and inner = Π shape[axis+1...], each input contributes
/// one contiguous block of len_i·inner elements per outer index, copied as a block.
public struct Concat: Operator {
    public static let opType = "Concat"
    let axis: Int
    /// Carried inputs along channels join through oneDNN's concat, in their layout.
    let carryOutput: Bool
    let joining = ConcatPlan()

    public init(_ context: OpContext) throws {
        axis = try context.attributes.int("axis", 1)
        carryOutput = carriesLayout(context)
    }

    /// Every input carried, rank 4, joined along channels.
    public func acceptsCarried(_ inputs: [Tensor?]) -> Bool {
        inputs.count > 1 && inputs.allSatisfy { $0?.isCarried == true && $0?.rank == 4 } && (axis == 1 || axis == -3)
    }

    func outputShape(_ shapes: [[Int]], _ dtypes: [DType]) throws -> (shape: [Int], axis: Int) {
        guard let first = shapes.first else { throw LoupeError.invalid("Concat needs at least one input") }
        guard Set(dtypes).count == 1 else {
            throw LoupeError.shape("Concat inputs have different dtypes: \(dtypes.map(\.name))")
        }
        let r = first.count
        guard r > 0 else { throw LoupeError.shape("Concat cannot join scalars") }
        let a = try normalizeAxis(axis, rank: r)
        var out = first
        out[a] = 0
        for s in shapes {
            guard s.count == r, (0..<r).allSatisfy({ $0 == a || s[$0] == first[$0] }) else {
                throw LoupeError.shape("Concat along axis \(axis): shapes \(shapes.map(describe).joined(separator: ", ")) do not match")
            }
            out[a] += s[a]
        }
        return (out, a)
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let ts = try inputs.indices.map { try required(inputs, $0) }
        let (shape, _) = try outputShape(ts.map(\.shape), ts.map(\.dtype))
        return [TensorType(ts[0].dtype, shape)]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let xs = try inputs.indices.map { try required(inputs, $0) }
        let (shape, a) = try outputShape(xs.map(\.shape), xs.map(\.dtype))
        if xs.count == 1 { return [xs[0]] }
        if acceptsCarried(inputs) { return [try joining.forward(xs, shape: shape, carry: carryOutput)] }
        return [try Movement.concat(xs, axis: a, shape: shape)]
    }


    /// Backward: each input's gradient is its block of the output gradient along the axis.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        let xs = try inputs.indices.map { try required(inputs, $0) }
        let (shape, a) = try outputShape(xs.map(\.shape), xs.map(\.dtype))
        let g = try Movement.gradient(gradients, 0, shape: shape)
        if xs.count == 1 { return [wanted.first == true && xs[0].isFloat ? g : nil] }
        var start = 0
        var out: [Tensor?] = []
        for (k, x) in xs.enumerated() {
            out.append(k < wanted.count && wanted[k] && x.isFloat ? try Movement.sliceAxis(g, axis: a, start: start, length: x.shape[a]) : nil)
            start += x.shape[a]
        }
        return out
    }
}
