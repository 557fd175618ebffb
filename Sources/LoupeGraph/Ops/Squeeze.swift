import LoupeTensor

/// Squeeze: removes size-1 axes — those listed in `axes` (attribute before opset 13, input 1
/// from 13; negative allowed), or every size-1 axis when none is given. No data moves.
public struct Squeeze: Operator {
    public static let opType = "Squeeze"
    let axesAttribute: [Int]?
    let axesFromInput: Bool

    public init(_ context: OpContext) throws {
        axesAttribute = try context.attributes.ints("axes")
        axesFromInput = context.opset >= 13 && context.hasInput(1)
    }

    func outputShape(_ s: [Int], _ axesInput: Tensor??) throws -> [Int] {
        var requested = axesAttribute
        if axesFromInput {
            guard let given = axesInput, let t = given else {
                throw LoupeError.unsupported("Squeeze needs a constant 'axes' input")
            }
            requested = try Movement.ints(t, "axes")
        }
        guard let requested else { return s.filter { $0 != 1 } }
        let axes = try Movement.axes(requested, rank: s.count)
        for a in axes where s[a] != 1 {
            throw LoupeError.shape("Squeeze axis \(a) of \(describe(s)) has size \(s[a]), not 1")
        }
        return s.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
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
