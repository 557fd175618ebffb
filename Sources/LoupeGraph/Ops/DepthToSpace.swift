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
        let (view, strides) = try self.view(x.shape)
        var t = try Movement.strided(x, shape: view, strides: strides)
        t.shape = try outputShape(x.shape)
        return [t]
    }

    /// The output as a 6-D strided view of the input: index (n, c, h, i, w, j); the input
    /// channel strides depend on the mode.
    func view(_ s: [Int]) throws -> (shape: [Int], strides: [Int]) {
        let out = try outputShape(s)
        let b = blocksize, n = s[0], c = out[1], h = s[2], w = s[3]
        let hw = h * w
        let strideC = crd ? b * b * hw : hw
        let strideI = crd ? b * hw : b * c * hw
        let strideJ = crd ? hw : c * hw
        return ([n, c, h, b, w, b], [s[1] * hw, strideC, w, strideI, 1, strideJ])
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
