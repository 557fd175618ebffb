import LoupeTensor

/// Split: cuts the input along `axis` (default 0) into parts of the sizes in `split`
/// (attribute before opset 13 — or input 1 in opset 1 —, input 1 from 13). Without it, into
/// `num_outputs` (opset 18) or as many parts as the node has outputs, of ceil(dim / n)
/// elements each, the last one smaller when the dimension does not divide.
public struct Split: Operator {
    public static let opType = "Split"
    let axis: Int
    let splitAttribute: [Int]?
    let outputs: Int
    let nodeOutputs: Int

    public init(_ context: OpContext) throws {
        let a = context.attributes
        axis = try a.int("axis", 0)
        splitAttribute = context.opset < 13 ? try a.ints("split") : nil
        nodeOutputs = context.node.outputs.count
        outputs = try a.int("num_outputs") ?? nodeOutputs
        guard outputs > 0 else { throw LoupeError.invalid("Split has no outputs") }
    }

    func sizes(_ shape: [Int], _ splitInput: Tensor?) throws -> (sizes: [Int], axis: Int) {
        // A scalar has no axis to cut (normalizeAxis lets axis 0 through for rank 0).
        guard !shape.isEmpty else { throw LoupeError.shape("Split needs an input of rank 1 or more, got a scalar") }
        let a = try normalizeAxis(axis, rank: shape.count)
        let n = shape[a]
        if let given = try splitInput.map({ try Movement.ints($0, "split") }) ?? splitAttribute, !given.isEmpty {
            guard given.allSatisfy({ $0 >= 0 && $0 <= n }), given.reduce(0, +) == n else {
                throw LoupeError.shape("Split sizes \(given) do not add up to dimension \(a) of \(describe(shape))")
            }
            guard given.count == nodeOutputs else {
                throw LoupeError.invalid("Split sizes \(given) give \(given.count) parts but the node has \(nodeOutputs) outputs")
            }
            return (given, a)
        }
        let chunk = (n + outputs - 1) / outputs
        let last = n - chunk * (outputs - 1)
        guard last >= 0 else {
            throw LoupeError.shape("cannot split dimension \(a) of \(describe(shape)) into \(outputs) parts")
        }
        return ([Int](repeating: chunk, count: outputs - 1) + [last], a)
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        if inputs.count > 1, inputs[1] != nil, constants.count > 1, constants[1] == nil {
            throw LoupeError.unsupported("Split needs a constant 'split' input")
        }
        let (sizes, a) = try self.sizes(x.shape, constants.count > 1 ? constants[1] : nil)
        return sizes.map { s in
            var shape = x.shape
            shape[a] = s
            return TensorType(x.dtype, shape)
        }
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        let (sizes, a) = try self.sizes(x.shape, inputs.count > 1 ? inputs[1] : nil)
        var start = 0
        var out: [Tensor] = []
        for s in sizes {
            out.append(try Movement.sliceAxis(x, axis: a, start: start, length: s))
            start += s
        }
        return out
    }

    /// Backward: the outputs' gradients joined along the axis (zero for outputs that do not
    /// reach the objective). None for `split`.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        guard wanted.first == true else { return Movement.onlyFirst(nil, inputs.count) }
        let x = try required(inputs, 0)
        let (sizes, a) = try self.sizes(x.shape, inputs.count > 1 ? inputs[1] : nil)
        var dx = try Tensor(zeros: x.shape)
        let outer = Movement.product(x.shape, 0..<a), inner = Movement.product(x.shape, (a + 1)..<x.rank)
        let row = x.shape[a] * inner
        var start = 0
        for (k, n) in sizes.enumerated() {
            defer { start += n * inner }
            guard k < gradients.count, gradients[k] != nil, n * inner > 0 else { continue }
            var shape = x.shape
            shape[a] = n
            let g = try Movement.gradient(gradients, k, shape: shape)
            let block = n * inner
            g.floats.withUnsafeBufferPointer { pg in
                dx.floats.withUnsafeMutableBufferPointer { pd in
                    for o in 0..<outer {
                        (pd.baseAddress! + o * row + start).update(from: pg.baseAddress! + o * block, count: block)
                    }
                }
            }
        }
        return Movement.onlyFirst(dx, inputs.count)
    }
}
