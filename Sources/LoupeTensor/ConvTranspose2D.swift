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

/// Fast 2-D transposed convolution: per image and group, one GEMM
/// `col[Mg*kH*kW, in] = wᵀ · x` followed by `col2im2D` into `y` (initialised with the bias).
public func convTranspose2d(
    x: UnsafePointer<Float>, batch: Int, channels C: Int,
    w: UnsafePointer<Float>, outChannels M: Int, group: Int,
    bias: UnsafePointer<Float>?, _ g: ConvGeometry,
    y: UnsafeMutablePointer<Float>
) throws {
    precondition(g.rank == 2 && group > 0 && C % group == 0 && M % group == 0)
    let Cg = C / group, Mg = M / group
    let inPlane = g.outputSize, outPlane = g.inputSize
    let rows = Mg * g.kernelSize
    if batch == 0 || M == 0 || outPlane == 0 { return }
    for i in 0..<(batch * M) { (y + i * outPlane).update(repeating: bias?[i % M] ?? 0, count: outPlane) }
    if inPlane == 0 || C == 0 { return }
    let col = UnsafeMutablePointer<Float>.allocate(capacity: try Tensor.checkedCount([rows, inPlane]))
    defer { col.deallocate() }
    for n in 0..<batch {
        for gi in 0..<group {
            sgemm(transA: true, m: rows, n: inPlane, k: Cg,
                  a: w + gi * Cg * rows, lda: rows,
                  b: x + (n * C + gi * Cg) * inPlane, ldb: inPlane,
                  c: col, ldc: inPlane)
            col2im2D(col, channels: Mg, g, y + (n * M + gi * Mg) * outPlane)
        }
    }
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
