import LoupeTensor

/// Reshape: same data, new shape. The target comes from the `shape` attribute before opset 5
/// and from input 1 afterwards. In it, 0 copies the input's dimension at that position (unless
/// `allowzero`=1, opset 14, where 0 means an empty dimension) and one -1 takes what is left.
public struct Reshape: Operator {
    public static let opType = "Reshape"
    let shapeAttribute: [Int]?
    let allowzero: Bool

    public init(_ context: OpContext) throws {
        shapeAttribute = context.opset < 5 ? try context.attributes.ints("shape") : nil
        allowzero = try context.attributes.int("allowzero", 0) == 1
    }

    func target(_ constant: Tensor?) throws -> [Int]? {
        if let constant { return try Movement.ints(constant, "shape") }
        return shapeAttribute
    }

    /// The output shape for input shape `input` and requested shape `spec`.
    static func resolve(_ input: [Int], _ spec: [Int], allowzero: Bool) throws -> [Int] {
        let count = input.reduce(1, *)
        var out = spec
        var inferred: Int? = nil
        for (i, d) in spec.enumerated() {
            switch d {
            case -1:
                guard inferred == nil else {
                    throw LoupeError.invalid("Reshape target \(describe(spec)) has more than one -1")
                }
                inferred = i
            case 0 where !allowzero:
                guard i < input.count else {
                    throw LoupeError.shape("Reshape target \(describe(spec)) copies dimension \(i) (0) but the input \(describe(input)) has rank \(input.count)")
                }
                out[i] = input[i]
            default:
                guard d >= 0 else { throw LoupeError.invalid("Reshape target \(describe(spec)) has negative dimension \(d)") }
            }
        }
        if allowzero, inferred != nil, spec.contains(0) {
            throw LoupeError.invalid("Reshape target \(describe(spec)) has both 0 and -1 with allowzero=1")
        }
        if let i = inferred {
            var known = 1
            for (j, d) in out.enumerated() where j != i {
                let (m, overflow) = known.multipliedReportingOverflow(by: d)
                guard !overflow else {
                    throw LoupeError(.tooLarge, "Reshape target \(describe(spec)) overflows")
                }
                known = m
            }
            guard known > 0, count % known == 0 else {
                throw LoupeError.shape("cannot reshape \(describe(input)) (\(count) elements) to \(describe(spec))")
            }
            out[i] = count / known
        }
        guard try Tensor.checkedCount(out) == count else {
            throw LoupeError.shape("cannot reshape \(describe(input)) (\(count) elements) to \(describe(spec))")
        }
        return out
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        guard let spec = try target(constants.count > 1 ? constants[1] : nil) else {
            throw LoupeError.unsupported("Reshape needs a constant 'shape' input")
        }
        return [TensorType(x.dtype, try Self.resolve(x.shape, spec, allowzero: allowzero))]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        guard let spec = try target(inputs.count > 1 ? inputs[1] : nil) else {
            throw LoupeError.invalid("Reshape has neither a 'shape' input nor a 'shape' attribute")
        }
        return [x.reshaped(try Self.resolve(x.shape, spec, allowzero: allowzero))]
    }

    /// Backward: no data moves, so the gradient is the output gradient with the input's shape.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        let x = try required(inputs, 0)
        let g = wanted.first == true ? try Movement.reshapedGradient(gradients, output: outputs[0], input: x) : nil
        return Movement.onlyFirst(g, inputs.count)
    }
}
