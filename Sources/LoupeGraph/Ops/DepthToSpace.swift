import LoupeTensor

/// DepthToSpace: [N, C, H, W] → [N, C/b², H·b, W·b] for `blocksize` b. Mode DCR (default):
/// channel = (i·b + j)·C/b² + c; mode CRD (opset 11): channel = c·b² + i·b + j, where (i, j) is
/// the position inside each b×b block.
///
/// Kernel: the output as a 6-D transpose of the input viewed as 6-D, one strided copy.
public struct DepthToSpace: Operator {
    public static let opType = "DepthToSpace"
    let blocksize: Int
    let crd: Bool

    public init(_ context: OpContext) throws {
        guard let b = try context.attributes.int("blocksize"), b > 0 else {
            throw LoupeError.invalid("DepthToSpace needs a positive 'blocksize'")
        }
        blocksize = b
        let mode = try context.attributes.string("mode", "DCR")
        guard mode == "DCR" || mode == "CRD" else { throw LoupeError.unsupported("DepthToSpace mode '\(mode)'") }
        crd = mode == "CRD"
    }

    func outputShape(_ s: [Int]) throws -> [Int] {
        let b = blocksize
        guard s.count == 4, s[1] % (b * b) == 0 else {
            throw LoupeError.shape("DepthToSpace with blocksize \(b) needs a 4-D input whose channels divide by \(b * b), got \(describe(s))")
        }
        return [s[0], s[1] / (b * b), s[2] * b, s[3] * b]
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        return [TensorType(x.dtype, try outputShape(x.shape))]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        let out = try outputShape(x.shape)
        let b = blocksize, n = x.shape[0], c = out[1], h = x.shape[2], w = x.shape[3]
        // Output index (n, c, h, i, w, j); input channel strides depend on the mode.
        let hw = h * w
        let strideC = crd ? b * b * hw : hw
        let strideI = crd ? b * hw : b * c * hw
        let strideJ = crd ? hw : c * hw
        let view = [n, c, h, b, w, b]
        let strides = [x.shape[1] * hw, strideC, w, strideI, 1, strideJ]
        var t = try Movement.strided(x, shape: view, strides: strides)
        t.shape = out
        return [t]
    }
}
