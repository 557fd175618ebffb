import LoupeTensor

/// Shape: the input's dimensions as a 1-D int64 tensor, restricted to `start ..< end`
/// (opset 15; negative counts from the back, both clamped to [0, rank]).
public struct Shape: Operator {
    public static let opType = "Shape"
    let start: Int
    let end: Int?

    public init(_ context: OpContext) throws {
        start = try context.attributes.int("start", 0)
        end = try context.attributes.int("end")
    }

    func dims(_ s: [Int]) -> [Int] {
        let r = s.count
        func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + r : v, 0), r) }
        let a = clamp(start), b = clamp(end ?? r)
        return a < b ? Array(s[a..<b]) : []
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        return [TensorType(.int64, [dims(x.shape).count])]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        return [Tensor.vector(dims(x.shape).map { Int64($0) })]
    }

    /// Backward: the output is the input's shape, an integer: no gradient flows.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        [Tensor?](repeating: nil, count: inputs.count)
    }
}
