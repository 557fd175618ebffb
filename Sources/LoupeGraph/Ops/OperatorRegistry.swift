import LoupeTensor

/// Every operator Loupe runs, by ONNX op type (default domain "" / "ai.onnx").
public enum OperatorRegistry {
    public static let all: [any Operator.Type] = [
        // elementwise, activations, reductions:
        Relu.self, Add.self,
        // shape and data movement:
        // convolution, pooling, normalisation, GEMM:
    ]

    public static let byType: [String: any Operator.Type] = {
        var d: [String: any Operator.Type] = [:]
        for t in all { d[t.opType] = t }
        return d
    }()

    public static func isSupported(_ opType: String, domain: String) -> Bool {
        (domain.isEmpty || domain == "ai.onnx") && byType[opType] != nil
    }

    /// Builds the operator for `node`, or throws naming the node, op type, domain and opset.
    public static func make(_ node: Node, opset: Int) throws -> any Operator {
        guard node.domain.isEmpty || node.domain == "ai.onnx", let type = byType[node.opType] else {
            let dom = node.domain.isEmpty ? "ai.onnx" : node.domain
            throw LoupeError.unsupported("\(node.label): op type '\(node.opType)' of domain '\(dom)' (opset \(opset)) is not supported by Loupe")
        }
        do {
            return try type.init(OpContext(node: node, opset: opset))
        } catch let e as LoupeError {
            throw e.message.hasPrefix(node.label) ? e : e.context(node.label)
        }
    }
}
