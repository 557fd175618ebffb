import LoupeTensor

/// Unsqueeze: inserts size-1 axes at `axes` (attribute before opset 13, input 1 from 13),
/// positions counted in the output (negative from opset 11). No data moves.
public struct Unsqueeze: Operator {
    public static let opType = "Unsqueeze"
    let axesAttribute: [Int]?
    let axesFromInput: Bool

    public init(_ context: OpContext) throws {
        axesAttribute = try context.attributes.ints("axes")
        axesFromInput = context.opset >= 13 || (axesAttribute == nil && context.hasInput(1))
    }

    func outputShape(_ s: [Int], _ axesInput: Tensor??) throws -> [Int] {
        var requested = axesAttribute
        if axesFromInput {
            guard let given = axesInput, let t = given else {
                throw LoupeError.unsupported("Unsqueeze needs a constant 'axes' input")
            }
            requested = try Movement.ints(t, "axes")
        }
        guard let requested else { throw LoupeError.invalid("Unsqueeze has no 'axes'") }
        let rank = s.count + requested.count
        let axes = try Movement.axes(requested, rank: rank)
        var out: [Int] = []
        var next = 0
        for i in 0..<rank {
            if axes.contains(i) { out.append(1) } else { out.append(s[next]); next += 1 }
        }
        return out
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        return [TensorType(x.dtype, try outputShape(x.shape, constants.count > 1 ? constants[1] : nil))]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        return [x.reshaped(try outputShape(x.shape, inputs.count > 1 ? inputs[1] : nil))]
    }

    /// Backward: no data moves, so the gradient is the output gradient with the input's shape.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        let x = try required(inputs, 0)
        let g = wanted.first == true ? try Movement.reshapedGradient(gradients, output: outputs[0], input: x) : nil
        return Movement.onlyFirst(g, inputs.count)
    }
}
