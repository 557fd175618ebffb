import LoupeTensor

// The shape ops' side of `Movement` (LoupeTensor): reading shape-like inputs and axes, the
// Resize target shape, and the gradient plumbing of their backward rules.

extension Movement {
    /// Integer values of a shape-like tensor (shape, axes, pads, starts, ...); throws for floats.
    static func ints(_ t: Tensor, _ what: String) throws -> [Int] {
        guard !t.isFloat else {
            throw LoupeError.invalid("'\(what)' must be an integer tensor, got \(t.dtype.name)")
        }
        return t.ints.map { Int($0) }
    }

    /// Normalises a list of possibly negative axes against `rank`, rejecting duplicates.
    static func axes(_ axes: [Int], rank: Int, what: String = "axes") throws -> [Int] {
        var out: [Int] = []
        for a in axes {
            let n = a < 0 ? a + rank : a
            guard n >= 0, n < rank else {
                throw LoupeError.shape("\(what) value \(a) is out of range for rank \(rank)")
            }
            guard !out.contains(n) else { throw LoupeError.invalid("\(what) \(axes) repeat axis \(n)") }
            out.append(n)
        }
        return out
    }

    /// Output shape and per-axis scales of a Resize, from `scales` or `sizes` given for `axes`
    /// (all axes when nil), with `keep_aspect_ratio_policy` applied to `sizes`.
    /// Output length = floor(in·scale) for scales; scale = out/in for sizes.
    static func resizeTarget(
        _ shape: [Int], scales: [Float]?, sizes: [Int]?, axes: [Int]?, policy: String = "stretch"
    ) throws -> (shape: [Int], scales: [Double]) {
        let r = shape.count
        let ax = try Movement.axes(axes ?? Array(0..<r), rank: r)
        var outShape = shape
        var sc = [Double](repeating: 1, count: r)
        if let sizes {
            guard sizes.count == ax.count, sizes.allSatisfy({ $0 >= 0 }) else {
                throw LoupeError.invalid("Resize sizes \(sizes) do not fit input \(describe(shape)) and axes \(ax)")
            }
            for (k, d) in ax.enumerated() {
                outShape[d] = sizes[k]
                sc[d] = shape[d] == 0 ? 1 : Double(sizes[k]) / Double(shape[d])
            }
            if policy != "stretch" {
                guard policy == "not_larger" || policy == "not_smaller" else {
                    throw LoupeError.unsupported("Resize keep_aspect_ratio_policy '\(policy)'")
                }
                let chosen = ax.map { sc[$0] }
                let s = (policy == "not_larger" ? chosen.min() : chosen.max()) ?? 1
                for d in ax {
                    sc[d] = s
                    outShape[d] = Int((s * Double(shape[d]) + 0.5).rounded(.down))
                }
            }
        } else if let scales {
            guard scales.count == ax.count, scales.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                throw LoupeError.invalid("Resize scales \(scales) do not fit input \(describe(shape)) and axes \(ax)")
            }
            for (k, d) in ax.enumerated() {
                sc[d] = Double(scales[k])
                let n = (sc[d] * Double(shape[d])).rounded(.down)
                guard n < Double(Tensor.maxElements) else {
                    throw LoupeError(.tooLarge, "Resize of \(describe(shape)) by \(scales) is too large")
                }
                outShape[d] = Int(n)
            }
        } else {
            throw LoupeError.invalid("Resize needs 'scales' or 'sizes'")
        }
        try Tensor.checkedCount(outShape)
        return (outShape, sc)
    }

    // MARK: - Backward plumbing

    /// The gradient of output `i` as a float32 tensor of `shape`; a nil gradient (the output does
    /// not reach the objective) is zero.
    static func gradient(_ gradients: [Tensor?], _ i: Int, shape: [Int]) throws -> Tensor {
        guard i < gradients.count, let g = gradients[i] else { return try Tensor(zeros: shape) }
        guard g.shape == shape, g.isFloat else {
            throw LoupeError.shape("gradient of output \(i) has shape \(describe(g.shape)) (\(g.dtype.name)); the output has \(describe(shape))")
        }
        if g.dtype == .float32 { return g }
        return Tensor(shape: shape, floats: g.floats)
    }

    /// Backward result of an op whose only differentiable input is the first: `g` for input 0,
    /// nil for the other `count - 1` inputs (shapes, axes, indices, ...).
    static func onlyFirst(_ g: Tensor?, _ count: Int) -> [Tensor?] {
        [g] + [Tensor?](repeating: nil, count: max(count - 1, 0))
    }

    /// The same gradient values seen with the input's shape (Reshape, Flatten, Squeeze, ...).
    static func reshapedGradient(_ gradients: [Tensor?], output: Tensor, input: Tensor) throws -> Tensor {
        try gradient(gradients, 0, shape: output.shape).reshaped(input.shape)
    }
}
