import LoupeTensor

// The Reduce* ops' attributes and shape rule, and Softmax's axis rule. The kernels (`reduce`,
// `argExtreme`, `softmax`) are LoupeTensor's.

// MARK: - Reduce* attributes

/// What a Reduce* op reduces: `axes` (an attribute before opset `axesInputSince`, input 1 from
/// then on), `keepdims` (default 1) and `noop_with_empty_axes` (default 0).
public struct ReduceConfig: Sendable {
    let opType: String
    let axesAttribute: [Int]?
    let axesFromInput: Bool
    let keepdims: Bool
    let noopWithEmptyAxes: Bool

    public init(_ context: OpContext, axesInputSince: Int) throws {
        let a = context.attributes
        opType = context.node.opType
        axesFromInput = context.opset >= axesInputSince
        axesAttribute = axesFromInput ? nil : try a.ints("axes")
        keepdims = try a.int("keepdims", 1) != 0
        noopWithEmptyAxes = try a.int("noop_with_empty_axes", 0) != 0
    }

    /// The sorted, normalised axes to reduce for an input of `rank`, or nil when the op is a
    /// no-op (empty axes with `noop_with_empty_axes=1`). `axesInput` is input 1 if present.
    func axes(rank: Int, axesInput: Tensor?) throws -> [Int]? {
        var raw: [Int]
        if axesFromInput {
            if let t = axesInput {
                guard !t.isFloat, t.rank <= 1 else {
                    throw LoupeError.invalid("\(opType): 'axes' input must be a 1-D integer tensor, got \(t.dtype.name) \(describe(t.shape))")
                }
                raw = t.intValues
            } else {
                raw = []
            }
        } else {
            raw = axesAttribute ?? []
        }
        if raw.isEmpty {
            if noopWithEmptyAxes { return nil }
            return Array(0..<rank)
        }
        var seen = Set<Int>()
        for i in raw.indices {
            raw[i] = try normalizeAxis(raw[i], rank: rank, what: "\(opType) axis")
            guard rank > 0, seen.insert(raw[i]).inserted else {
                throw LoupeError.invalid("\(opType): axes \(raw) repeat or do not fit rank \(rank)")
            }
        }
        return raw.sorted()
    }

    /// Output shape for `shape` reduced over `axes` (keepdims honoured).
    func outputShape(_ shape: [Int], _ axes: [Int]) -> [Int] {
        var out: [Int] = []
        for (d, n) in shape.enumerated() {
            if axes.contains(d) {
                if keepdims { out.append(1) }
            } else {
                out.append(n)
            }
        }
        return out
    }
}

/// A Reduce* op: conformers name their kind and the opset where `axes` became an input.
public protocol ReduceOperator: Operator {
    static var kind: ReduceKind { get }
    var config: ReduceConfig { get }
}

extension ReduceOperator {
    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        let hasAxes = inputs.count > 1 && inputs[1] != nil
        let axesConst = constants.count > 1 ? constants[1] : nil
        if config.axesFromInput, hasAxes, axesConst == nil {
            throw LoupeError.unsupported("\(Self.opType) needs a constant 'axes' input")
        }
        guard let axes = try config.axes(rank: x.shape.count, axesInput: axesConst) else { return [x] }
        return [TensorType(x.dtype, config.outputShape(x.shape, axes))]
    }

    /// Backward: see `reduceBackward` (Support/ElementwiseGradient.swift).
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        try reduceBackward(inputs, outputs: outputs, gradients: gradients, wanted: wanted)
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        let axesInput = inputs.count > 1 ? inputs[1] : nil
        guard let axes = try config.axes(rank: x.rank, axesInput: axesInput) else { return [x] }
        var y = try reduce(x, axes: axes, kind: Self.kind)
        y.shape = config.outputShape(x.shape, axes)
        return [y]
    }
}

// MARK: - Softmax / LogSoftmax

/// Softmax's axis rule. Before opset 13 the input is coerced to 2-D at `axis` (default 1) and
/// the softmax runs over the flattened trailing dimensions [axis, rank); from 13 it runs over
/// the single dimension `axis` (default -1).
public struct SoftmaxAxis: Sendable {
    let axis: Int
    let flattenTrailing: Bool

    public init(_ context: OpContext) throws {
        flattenTrailing = context.opset < 13
        axis = try context.attributes.int("axis", flattenTrailing ? 1 : -1)
    }

    /// (outer, n, inner): the tensor viewed as [outer, n, inner], softmax over n.
    func split(_ shape: [Int], _ op: String) throws -> (Int, Int, Int) {
        let r = shape.count
        if flattenTrailing {
            // Opset < 13 allows axis == rank (a [N, 1] view).
            let a = axis < 0 ? axis + r : axis
            guard a >= 0, a <= r else { throw LoupeError.shape("\(op): axis \(axis) is out of range for \(describe(shape))") }
            return (shape[..<a].reduce(1, *), shape[a...].reduce(1, *), 1)
        }
        guard r > 0 else { throw LoupeError.shape("\(op): input is a scalar") }
        let a = try normalizeAxis(axis, rank: r, what: "\(op) axis")
        return (shape[..<a].reduce(1, *), shape[a], shape[(a + 1)...].reduce(1, *))
    }
}
