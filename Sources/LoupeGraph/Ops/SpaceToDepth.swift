import LoupeTensor

/// SpaceToDepth: [N, C, H, W] → [N, C·b², H/b, W/b] for `blocksize` b; output channel
/// (i·b + j)·C + c holds input pixel (h·b + i, w·b + j) of channel c.
///
/// Kernel: a 6-D strided view of the input, one strided copy.
public struct SpaceToDepth: Operator {
    public static let opType = "SpaceToDepth"
    let blocksize: Int

    public init(_ context: OpContext) throws {
        guard let b = try context.attributes.int("blocksize"), b > 0 else {
            throw LoupeError.invalid("SpaceToDepth needs a positive 'blocksize'")
        }
        blocksize = b
    }

    func outputShape(_ s: [Int]) throws -> [Int] {
        let b = blocksize
        guard s.count == 4, s[2] % b == 0, s[3] % b == 0 else {
            throw LoupeError.shape("SpaceToDepth with blocksize \(b) needs a 4-D input whose height and width divide by \(b), got \(describe(s))")
        }
        return [s[0], s[1] * b * b, s[2] / b, s[3] / b]
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        return [TensorType(x.dtype, try outputShape(x.shape))]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        let (view, strides) = try self.view(x.shape)
        var t = try Movement.strided(x, shape: view, strides: strides)
        t.shape = try outputShape(x.shape)
        return [t]
    }

    /// The output as a 6-D strided view of the input: index (n, i, j, c, h', w') reads input
    /// (n, c, h'·b + i, w'·b + j).
    func view(_ s: [Int]) throws -> (shape: [Int], strides: [Int]) {
        _ = try outputShape(s)
        let b = blocksize, c = s[1], h = s[2], w = s[3]
        return ([s[0], b, b, c, h / b, w / b], [c * h * w, w, 1, h * w, b * w, b])
    }

    /// Backward: each input element receives the gradient of the one output it moved to
    /// (the forward's strided view, transposed).
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        guard wanted.first == true else { return Movement.onlyFirst(nil, inputs.count) }
        let x = try required(inputs, 0)
        let (view, strides) = try self.view(x.shape)
        let g = try Movement.gradient(gradients, 0, shape: try outputShape(x.shape))
        return Movement.onlyFirst(try Movement.stridedAdjoint(g.reshaped(view), into: x.shape, strides: strides), inputs.count)
    }
}
