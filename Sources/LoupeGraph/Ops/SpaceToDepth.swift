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
        let out = try outputShape(x.shape)
        let b = blocksize, c = x.shape[1], h = x.shape[2], w = x.shape[3]
        // Output index (n, i, j, c, h', w') reads input (n, c, h'·b + i, w'·b + j).
        let view = [x.shape[0], b, b, c, h / b, w / b]
        let strides = [c * h * w, w, 1, h * w, b * w, b]
        var t = try Movement.strided(x, shape: view, strides: strides)
        t.shape = out
        return [t]
    }
}
