/// Convolution kernels (cross-correlation, as ONNX `Conv` defines it).
///
/// Layouts, row-major:
/// - x: `[N, C, spatial...]`
/// - w: `[M, C / group, kernel...]`
/// - bias: `[M]` or nil
/// - y: `[N, M, output...]`
/// Input channel block `g` (of `C / group` channels) feeds output channel block `g` (of
/// `M / group` channels).

/// Fast 2-D convolution (`g.rank == 2`; lift 1-D geometry with `as2D`).
///
/// Depthwise convolutions (`group == C`, `M` a multiple of `C`) use a direct kernel,
/// parallel over channels; everything else is im2col + `sgemm` per image and group, where a
/// 1×1 stride-1 unpadded kernel multiplies the input directly. Large images are lowered in
/// tiles of whole output rows so that the im2col buffer (about `im2colTileFloats` floats)
/// stays in cache between being written and being packed by the GEMM. The bias is added
/// fused (it initialises `y` and the GEMM accumulates onto it).
public func conv2d(
    x: UnsafePointer<Float>, batch: Int, channels C: Int,
    w: UnsafePointer<Float>, outChannels M: Int, group: Int,
    bias: UnsafePointer<Float>?, _ g: ConvGeometry,
    y: UnsafeMutablePointer<Float>
) throws {
    precondition(g.rank == 2 && group > 0 && C % group == 0 && M % group == 0)
    if group == C && group > 1 {
        conv2dDepthwise(x: x, batch: batch, channels: C, w: w, multiplier: M / C, bias: bias, g, y: y)
        return
    }
    let Cg = C / group, Mg = M / group
    let inPlane = g.inputSize, outPlane = g.outputSize
    let K = Cg * g.kernelSize
    if outPlane == 0 || batch == 0 || M == 0 { return }
    if let bias {
        for i in 0..<(batch * M) { (y + i * outPlane).update(repeating: bias[i % M], count: outPlane) }
    }
    let pointwise = g.kernel == [1, 1] && g.strides == [1, 1] && g.padsBegin == [0, 0] && g.padsEnd == [0, 0]
        && g.input == g.output
    let beta: Float = bias == nil ? 0 : 1
    if pointwise {
        for n in 0..<batch {
            for gi in 0..<group {
                sgemm(m: Mg, n: outPlane, k: K, a: w + gi * Mg * K, lda: K,
                      b: x + (n * C + gi * Cg) * inPlane, ldb: outPlane, beta: beta,
                      c: y + (n * M + gi * Mg) * outPlane, ldc: outPlane)
            }
        }
        return
    }
    let oH = g.output[0], oW = g.output[1]
    // Output rows per tile: about im2colTileFloats floats of im2col, at least
    // im2colMinTileColumns GEMM columns, at most the whole image.
    var tileRows = max(1, im2colTileFloats / max(1, K * oW))
    tileRows = max(tileRows, (im2colMinTileColumns + oW - 1) / oW)
    tileRows = min(tileRows, oH)
    let col = UnsafeMutablePointer<Float>.allocate(capacity: try Tensor.checkedCount([K, tileRows * oW]))
    defer { col.deallocate() }
    for n in 0..<batch {
        for gi in 0..<group {
            let xg = x + (n * C + gi * Cg) * inPlane
            var row = 0
            while row < oH {
                let rows = min(tileRows, oH - row)
                im2col2D(xg, channels: Cg, g, col, firstRow: row, rows: rows)
                sgemm(m: Mg, n: rows * oW, k: K,
                      a: w + gi * Mg * K, lda: K, b: col, ldb: rows * oW, beta: beta,
                      c: y + (n * M + gi * Mg) * outPlane + row * oW, ldc: outPlane)
                row += rows
            }
        }
    }
}

/// Target size in floats of one im2col tile in `conv2d` (1 MiB: fits the L2 cache).
nonisolated(unsafe) public var im2colTileFloats = 1 << 18
/// The fewest GEMM columns (output positions) a tile may have, so that GEMMs stay efficient.
nonisolated(unsafe) public var im2colMinTileColumns = 512

/// Direct depthwise 2-D convolution: `group == C`, output channel `m` reads input channel
/// `m / multiplier` only. w: `[C * multiplier, 1, kH, kW]`. Parallel over (image, output
/// channel).
public func conv2dDepthwise(
    x: UnsafePointer<Float>, batch: Int, channels C: Int,
    w: UnsafePointer<Float>, multiplier: Int,
    bias: UnsafePointer<Float>?, _ g: ConvGeometry,
    y: UnsafeMutablePointer<Float>
) {
    let H = g.input[0], W = g.input[1]
    let kH = g.kernel[0], kW = g.kernel[1]
    let sH = g.strides[0], sW = g.strides[1]
    let dH = g.dilations[0], dW = g.dilations[1]
    let pT = g.padsBegin[0], pL = g.padsBegin[1]
    let oH = g.output[0], oW = g.output[1]
    let M = C * multiplier
    parallelFor(batch * M) { idx in
        let m = idx % M
        let n = idx / M
        let c = m / multiplier
        let xin = x + (n * C + c) * H * W
        let out = y + idx * oH * oW
        let wk = w + m * kH * kW
        out.update(repeating: bias?[m] ?? 0, count: oH * oW)
        for oh in 0..<oH {
            let orow = out + oh * oW
            for kh in 0..<kH {
                let ih = oh * sH - pT + kh * dH
                if ih < 0 || ih >= H { continue }
                let irow = xin + ih * W
                for kw in 0..<kW {
                    let wv = wk[kh * kW + kw]
                    let off = kw * dW - pL
                    let (lo, hi) = validRange(offset: off, stride: sW, inCount: W, outCount: oW)
                    if lo >= hi { continue }
                    if sW == 1 {
                        let s = irow + (off + lo), d = orow + lo
                        for j in 0..<(hi - lo) { d[j] += wv * s[j] }
                    } else {
                        for ow in lo..<hi { orow[ow] += wv * irow[ow * sW + off] }
                    }
                }
            }
        }
    }
}

/// The algorithmic reference for 2-D convolution: seven plain loops, Double accumulation.
public func conv2dNaive(
    x: UnsafePointer<Float>, batch: Int, channels C: Int,
    w: UnsafePointer<Float>, outChannels M: Int, group: Int,
    bias: UnsafePointer<Float>?, _ g: ConvGeometry,
    y: UnsafeMutablePointer<Float>
) {
    let H = g.input[0], W = g.input[1]
    let kH = g.kernel[0], kW = g.kernel[1]
    let oH = g.output[0], oW = g.output[1]
    let Cg = C / group, Mg = M / group
    for n in 0..<batch {
        for m in 0..<M {
            let gi = m / Mg
            for oh in 0..<oH {
                for ow in 0..<oW {
                    var s = Double(bias?[m] ?? 0)
                    for cg in 0..<Cg {
                        let c = gi * Cg + cg
                        for kh in 0..<kH {
                            for kw in 0..<kW {
                                let ih = oh * g.strides[0] - g.padsBegin[0] + kh * g.dilations[0]
                                let iw = ow * g.strides[1] - g.padsBegin[1] + kw * g.dilations[1]
                                if ih < 0 || ih >= H || iw < 0 || iw >= W { continue }
                                s += Double(x[((n * C + c) * H + ih) * W + iw])
                                    * Double(w[((m * Cg + cg) * kH + kh) * kW + kw])
                            }
                        }
                    }
                    y[((n * M + m) * oH + oh) * oW + ow] = Float(s)
                }
            }
        }
    }
}

/// Convolution of any spatial rank (used for 3-D, and as a cross-check): direct loops over
/// output positions, channels and kernel taps, Double accumulation. Same layouts as `conv2d`.
public func convNdNaive(
    x: UnsafePointer<Float>, batch: Int, channels C: Int,
    w: UnsafePointer<Float>, outChannels M: Int, group: Int,
    bias: UnsafePointer<Float>?, _ g: ConvGeometry,
    y: UnsafeMutablePointer<Float>
) {
    let r = g.rank
    let Cg = C / group, Mg = M / group
    let inPlane = g.inputSize, outPlane = g.outputSize, kSize = g.kernelSize
    let inStrides = contiguousStrides(g.input)
    // Per kernel tap: its offset along each dimension (tap index * dilation).
    var tapOffsets = [Int](repeating: 0, count: kSize * r)
    for t in 0..<kSize {
        var rem = t
        for d in stride(from: r - 1, through: 0, by: -1) {
            tapOffsets[t * r + d] = (rem % g.kernel[d]) * g.dilations[d]
            rem /= g.kernel[d]
        }
    }
    var start = [Int](repeating: 0, count: r)
    for n in 0..<batch {
        for m in 0..<M {
            let gi = m / Mg
            for o in 0..<outPlane {
                var rem = o
                for d in stride(from: r - 1, through: 0, by: -1) {
                    start[d] = (rem % g.output[d]) * g.strides[d] - g.padsBegin[d]
                    rem /= g.output[d]
                }
                var s = Double(bias?[m] ?? 0)
                for t in 0..<kSize {
                    var idx = 0
                    var inside = true
                    for d in 0..<r {
                        let p = start[d] + tapOffsets[t * r + d]
                        if p < 0 || p >= g.input[d] { inside = false; break }
                        idx += p * inStrides[d]
                    }
                    if !inside { continue }
                    for cg in 0..<Cg {
                        let c = gi * Cg + cg
                        s += Double(x[(n * C + c) * inPlane + idx]) * Double(w[(m * Cg + cg) * kSize + t])
                    }
                }
                y[(n * M + m) * outPlane + o] = Float(s)
            }
        }
    }
}
