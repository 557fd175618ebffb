import LoupeTensor

/// Flatten: reshapes to 2-D [Π shape[..<axis], Π shape[axis...]] (axis default 1, in [-r, r];
/// negative from opset 11). No data moves.
public struct Flatten: Operator {
    public static let opType = "Flatten"
    let axis: Int

    public init(_ context: OpContext) throws {
        axis = try context.attributes.int("axis", 1)
    }

    func outputShape(_ s: [Int]) throws -> [Int] {
        let a = axis < 0 ? axis + s.count : axis
        guard a >= 0, a <= s.count else {
            throw LoupeError.shape("Flatten axis \(axis) is out of range for input \(describe(s))")
        }
        return [Movement.product(s, 0..<a), Movement.product(s, a..<s.count)]
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        return [TensorType(x.dtype, try outputShape(x.shape))]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        return [x.reshaped(try outputShape(x.shape))]
    }

    /// Backward: no data moves, so the gradient is the output gradient with the input's shape.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        let x = try required(inputs, 0)
        let g = wanted.first == true ? try Movement.reshapedGradient(gradients, output: outputs[0], input: x) : nil
        return Movement.onlyFirst(g, inputs.count)
    }
}
