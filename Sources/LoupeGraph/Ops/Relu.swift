import LoupeTensor

/// Relu: Y = max(X, 0).
public struct Relu: Operator {
    public static let opType = "Relu"
    public init(_ context: OpContext) throws {}

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        [try required(inputs, 0)]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        [try mapFloat(try float(inputs, 0)) { max($0, 0) }]
    }

    /// Backward: g · [x > 0] under the standard rule; the deconvnet, guided and redirected rules
    /// per `BackwardRules` (redirected: the true gradient unless it is zero everywhere).
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        if rules.relu == .redirected {
            let standard = try backward(inputs, outputs: outputs, gradients: gradients, wanted: wanted, rules: .standard)
            if standard.first??.floats.contains(where: { $0 != 0 }) ?? true { return standard }
        }
        // One loop per rule (`reluGradient`'s cases), so that no switch runs per element.
        switch rules.relu {
        case .standard:
            return try unaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, Self.opType) { g, x, _ in x > 0 ? g : 0 }
        case .deconvnet:
            return try unaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, Self.opType) { g, _, _ in max(g, 0) }
        case .guided:
            return try unaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, Self.opType) { g, x, _ in x > 0 && g > 0 ? g : 0 }
        case .redirected:
            return try unaryGradient(inputs, outputs: outputs, gradients: gradients, wanted: wanted, Self.opType) { g, x, _ in x > 0 || g > 0 ? g : 0 }
        }
    }
}
