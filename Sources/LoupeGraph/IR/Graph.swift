import LoupeTensor

/// One dimension of a declared input or output: fixed, or a symbol such as `batch`.
public enum Dim: Sendable, Equatable, CustomStringConvertible {
    case fixed(Int)
    case symbol(String)

    public var value: Int? { if case .fixed(let v) = self { v } else { nil } }
    public var description: String {
        switch self {
        case .fixed(let v): "\(v)"
        case .symbol(let s): s.isEmpty ? "?" : s
        }
    }
}

/// A named graph input or output with its declared type.
public struct ValueInfo: Sendable {
    public var name: String
    public var dtype: DType
    /// `nil` when the file declares no shape at all.
    public var dims: [Dim]?

    public init(name: String, dtype: DType, dims: [Dim]?) {
        self.name = name
        self.dtype = dtype
        self.dims = dims
    }
}

/// A node of the graph: one ONNX operator application.
public struct Node: Sendable {
    public var name: String
    public var opType: String
    public var domain: String
    /// Input tensor names; "" marks an omitted optional input.
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [String: Attribute]

    public init(name: String, opType: String, domain: String = "", inputs: [String], outputs: [String],
                attributes: [String: Attribute] = [:]) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    /// `node 'name' (OpType)`, the prefix of every error about this node.
    public var label: String { "node '\(name)' (\(opType))" }
}

/// Loupe's graph IR: what every importer produces and every pass, executor and exporter reads.
public struct Graph: Sendable {
    public var name: String = ""
    public var nodes: [Node] = []
    /// Inputs that are fed at run time (initializers excluded).
    public var inputs: [ValueInfo] = []
    public var outputs: [ValueInfo] = []
    /// Constant tensors: ONNX initializers and folded values.
    public var initializers: [String: Tensor] = [:]
    /// Opset version of the default ONNX domain.
    public var opset: Int = 13
    /// Opset versions of other domains the file imports (e.g. "com.microsoft": 1).
    public var domainOpsets: [String: Int] = [:]
    /// Free-form facts about where the graph came from (producer, file, ...).
    public var metadata: [String: String] = [:]

    public init() {}

    /// The node producing each tensor name.
    public func producers() -> [String: Int] {
        var p: [String: Int] = [:]
        for (i, n) in nodes.enumerated() { for o in n.outputs where !o.isEmpty { p[o] = i } }
        return p
    }

    /// Number of parameters: elements of float initializers.
    public var parameterCount: Int {
        initializers.values.reduce(0) { $0 + ($1.isFloat ? $1.count : 0) }
    }
}
