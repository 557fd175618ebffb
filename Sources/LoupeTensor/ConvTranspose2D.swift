/// Transposed convolution kernels (ONNX `ConvTranspose`): the adjoint of `conv2d` with
/// respect to its input, plus a bias.
///
/// Layouts, row-major:
/// - x: `[N, C, in...]`  (the transposed convolution's input)
/// - w: `[C, M / group, kernel...]`
/// - bias: `[M]` or nil
/// - y: `[N, M, out...]`
/// `g` describes the forward convolution that maps `y`'s spatial shape to `x`'s:
/// `g.input` is `out...`, `g.output` is `in...` (see `ConvGeometry`). Input position `i`
/// and tap `k` scatter into output position `i * stride - padBegin + k * dilation` when it
/// falls inside `0..<out`.

/// Fast 2-D transposed convolution: `y` initialised with the bias, then the data gradient
/// of the forward convolution (`conv2dBackwardData`: per image, group and tile of rows one
/// GEMM `col = wᵀ · x` and `col2im2D`, a direct kernel when `group == M`) added into it.
public func convTranspose2d(
    x: UnsafePointer<Float>, batch: Int, channels C: Int,
    w: UnsafePointer<Float>, outChannels M: Int, group: Int,
    bias: UnsafePointer<Float>?, _ g: ConvGeometry,
    y: UnsafeMutablePointer<Float>
) throws {
    precondition(g.rank == 2 && group > 0 && C % group == 0 && M % group == 0)
    let outPlane = g.inputSize
    if batch == 0 || M == 0 || outPlane == 0 { return }
    for i in 0..<(batch * M) { (y + i * outPlane).update(repeating: bias?[i % M] ?? 0, count: outPlane) }
    if g.outputSize == 0 || C == 0 { return }
    // The forward convolution maps y (M channels) to x (C channels) with the same weights.
    try conv2dBackwardData(dy: x, batch: batch, outChannels: C, w: w, channels: M, group: group, g,
                           dx: y, accumulate: true)
}

/// The algorithmic reference for transposed convolution of any spatial rank (also the
/// path for 3-D): scatters every input value through every kernel tap.
public func convTransposeNdNaive(
    x: UnsafePointer<Float>, batch: Int, channels C: Int,
    w: UnsafePointer<Float>, outChannels M: Int, group: Int,
    bias: UnsafePointer<Float>?, _ g: ConvGeometry,
    y: UnsafeMutablePointer<Float>
) {
    let r = g.rank
    let Cg = C / group, Mg = M / group
    let inPlane = g.outputSize, outPlane = g.inputSize, kSize = g.kernelSize
    let outStrides = contiguousStrides(g.input)
    for i in 0..<(batch * M * outPlane) { y[i] = bias?[(i / max(outPlane, 1)) % M] ?? 0 }
    var pos = [Int](repeating: 0, count: r)
    for n in 0..<batch {
        for c in 0..<C {
            let gi = c / Cg
            for i in 0..<inPlane {
                let xv = x[(n * C + c) * inPlane + i]
                for t in 0..<kSize {
                    // Output position of input position i through tap t.
                    var ri = i, rt = t
                    var idx = 0
                    var inside = true
                    for d in stride(from: r - 1, through: 0, by: -1) {
                        pos[d] = (ri % g.output[d]) * g.strides[d] - g.padsBegin[d] + (rt % g.kernel[d]) * g.dilations[d]
                        ri /= g.output[d]
                        rt /= g.kernel[d]
                        if pos[d] < 0 || pos[d] >= g.input[d] { inside = false }
                        idx += pos[d] * outStrides[d]
                    }
                    if !inside { continue }
                    for mg in 0..<Mg {
                        let m = gi * Mg + mg
                        y[(n * M + m) * outPlane + idx] += xv * w[(c * Mg + mg) * kSize + t]
                    }
                }
            }
        }
    }
}
