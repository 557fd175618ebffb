import LoupeTensor

/// The static type of a tensor during shape inference.
public struct TensorType: Sendable, Equatable, CustomStringConvertible {
    public var dtype: DType
    public var shape: [Int]
    public init(_ dtype: DType, _ shape: [Int]) {
        self.dtype = dtype
        self.shape = shape
    }
    public var description: String { "\(dtype.name)\(describe(shape))" }
}

/// What an operator sees when it is built: the node's attributes and input names, and the
/// opset version, so that one type can read every version of the op.
public struct OpContext: Sendable {
    public var node: Node
    public var opset: Int
    public var attributes: Attributes

    public init(node: Node, opset: Int) {
        self.node = node
        self.opset = opset
        self.attributes = Attributes(node.attributes, owner: node.label)
    }

    /// True when optional input `i` is present (not omitted and not past the end).
    public func hasInput(_ i: Int) -> Bool { i < node.inputs.count && !node.inputs[i].isEmpty }
}

/// One ONNX operator: attribute parsing, shape inference and the forward kernel, in one file
/// per op under `Ops/`, named after the spec (`Conv.swift`).
///
/// Inputs arrive in the node's order; an omitted optional input is `nil`. Implementations
/// throw `LoupeError` (never trap) for anything a model file can cause; the executor adds
/// the node name to the message.
public protocol Operator: Sendable {
    /// The ONNX op type this implements, e.g. "Conv".
    static var opType: String { get }
    init(_ context: OpContext) throws
    /// Output types from input types. `constants[i]` holds input i's value when it is known
    /// before running (an initializer or folded constant); shape-like inputs need it.
    func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType]
    func forward(_ inputs: [Tensor?]) throws -> [Tensor]
    /// The vector-Jacobian product. Given the forward `inputs` and `outputs` and the gradient
    /// of the objective with respect to each output (`gradients[i]`, nil meaning zero),
    /// returns the gradient with respect to each input, computing only those with
    /// `wanted[i]` (nil elsewhere, and for inputs that are not differentiable, such as
    /// integer shape inputs). Ops that have no meaningful gradient return all nils;
    /// ReLU-like ops follow `rules.relu`.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                  rules: BackwardRules) throws -> [Tensor?]
    /// Whether `forward` takes these inputs when some are carried in a oneDNN layout
    /// (`Tensor.carried`, fused plans only). False by default: the executor then gives
    /// the op their NCHW copies (docs/engine.md, "Carried layouts").
    func acceptsCarried(_ inputs: [Tensor?]) -> Bool
    /// Whether `backward` reads the values of forward input `k` (or, with `output`, of
    /// output `k`) when the gradients `wanted` are asked for; true by default. Where it reads
    /// only the shape, a gradient plan may pass the tensor still carried in a oneDNN layout
    /// and so save converting it (`Executor.gradients`).
    func backwardReads(input k: Int, wanted: [Bool]) -> Bool
    func backwardReads(output k: Int) -> Bool
    /// Whether `backward` takes output gradients carried in a oneDNN layout (and may return
    /// input gradients so carried). False by default: the executor gives it NCHW ones.
    var acceptsCarriedGradients: Bool { get }
}

extension Operator {
    public func acceptsCarried(_ inputs: [Tensor?]) -> Bool { false }
    public func backwardReads(input k: Int, wanted: [Bool]) -> Bool { true }
    public func backwardReads(output k: Int) -> Bool { true }
    public var acceptsCarriedGradients: Bool { false }
}


extension Operator {
    /// Input `i`, or an error saying that the required input is missing.
    @inline(__always)
    public func required(_ inputs: [Tensor?], _ i: Int) throws -> Tensor {
        guard i < inputs.count, let t = inputs[i] else {
            throw LoupeError.invalid("\(Self.opType): required input \(i) is missing")
        }
        return t
    }

    @inline(__always)
    public func required(_ inputs: [TensorType?], _ i: Int) throws -> TensorType {
        guard i < inputs.count, let t = inputs[i] else {
            throw LoupeError.invalid("\(Self.opType): required input \(i) is missing")
        }
        return t
    }

    /// Input `i` as a float tensor, or an error naming the dtype found.
    @inline(__always)
    public func float(_ inputs: [Tensor?], _ i: Int) throws -> Tensor {
        let t = try required(inputs, i)
        guard t.isFloat else {
            throw LoupeError.unsupported("\(Self.opType): input \(i) has dtype \(t.dtype.name); only float tensors are supported here")
        }
        return t
    }
}
