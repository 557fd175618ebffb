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
/// tiles of whole output rows so that the im2col buffer (about `LoupeConfiguration.im2colTileFloats` floats)
/// stays in cache between being written and being packed by the GEMM. The bias is added
/// fused (it initialises `y` and the GEMM accumulates onto it).
public func conv2d(
    x: UnsafePointer<Float>, batch: Int, channels C: Int,
    w: UnsafePointer<Float>, outChannels M: Int, group: Int,
    bias: UnsafePointer<Float>?, _ g: ConvGeometry,
    clip: (Float, Float)? = nil,
    y: UnsafeMutablePointer<Float>
) throws {
    precondition(g.rank == 2 && group > 0 && C % group == 0 && M % group == 0)
    if group == C && group > 1 {
        conv2dDepthwise(x: x, batch: batch, channels: C, w: w, multiplier: M / C, bias: bias, g, clip: clip, y: y)
        return
    }
    let Cg = C / group, Mg = M / group
    let inPlane = g.inputSize, outPlane = g.outputSize
    let K = Cg * g.kernelSize
    if outPlane == 0 || batch == 0 || M == 0 { return }
    let config = LoupeConfiguration.current
    let threads = config.threads, splitRowsMin = config.splitRowsMin
    // Bias and clamp are applied to each GEMM's block right after it, while it is in cache.
    let epilogue = ConvEpilogue(bias: bias, clip: clip)
    let pointwise = g.kernel == [1, 1] && g.strides == [1, 1] && g.padsBegin == [0, 0] && g.padsEnd == [0, 0]
        && g.input == g.output
    // How the work is cut into GEMMs depends on the shape only, never on `threads` (OpenBLAS
    // rounds a column differently depending on the size of the call it is in; issue 17
    // point 7): the threads only share out the pieces.
    if pointwise {
        // Wide images: split the output columns into pieces of at least 512, one
        // single-threaded GEMM each (splitting the rows scales poorly when M is small).
        let chunks = outPlane >= 1024 ? min(config.gemmMaxParts, outPlane / 512) : 1
        let width = (outPlane + chunks - 1) / chunks
        // Narrow images: split the output channels instead.
        if chunks == 1 && Mg >= 2 * splitRowsMin {
            for n in 0..<batch {
                for gi in 0..<group {
                    gemmSplitRows(m: Mg, n: outPlane, k: K, a: w + gi * Mg * K,
                                  b: x + (n * C + gi * Cg) * inPlane,
                                  c: y + (n * M + gi * Mg) * outPlane, epilogue, channel0: gi * Mg)
                }
            }
            return
        }
        for n in 0..<batch {
            for gi in 0..<group {
                // One chunk: called directly, so that `sgemm` may cut it (by its shape) itself.
                forEachOrDirectly(chunks) { c in
                    let c0 = c * width, cols = min(width, outPlane - c0)
                    guard cols > 0 else { return }
                    let c = y + (n * M + gi * Mg) * outPlane + c0
                    sgemm(m: Mg, n: cols, k: K, a: w + gi * Mg * K, lda: K,
                          b: x + (n * C + gi * Cg) * inPlane + c0, ldb: outPlane, beta: 0,
                          c: c, ldc: outPlane)
                    epilogue.apply(c, channel0: gi * Mg, rows: Mg, cols: cols, ldc: outPlane)
                }
            }
        }
        return
    }
    let oH = g.output[0], oW = g.output[1]
    // Output rows per tile: about im2colTileFloats floats of im2col, at least
    // im2colMinTileColumns GEMM columns, at most the whole image.
    var tileRows = max(1, config.im2colTileFloats / max(1, K * oW))
    tileRows = max(tileRows, (config.im2colMinTileColumns + oW - 1) / oW)
    tileRows = min(tileRows, oH)
    var tiles = (oH + tileRows - 1) / tileRows
    // Several tiles: each thread lowers and multiplies its own tiles with a single-threaded
    // GEMM; one tile: `sgemm` splits the GEMM itself.
    let tiled = tiles >= 2
    // Balance two threads: an even number of tiles, their rows spread evenly (28 rows in
    // tiles of 19 and 9 left one thread idle a third of the time). A constant, not the
    // thread count, so that the tiles (and the results) are the same for every `--threads`.
    if tiled { tiles = min(oH, (tiles + 1) / 2 * 2) }
    let workers = tiled ? min(threads, tiles) : 1
    let maxTileRows = (oH + tiles - 1) / tiles
    if !tiled && Mg >= 2 * splitRowsMin {
        // One tile: lower it with every thread (channel ranges), then split the output
        // channels of one GEMM across the threads.
        let cols = oH * oW, kk = g.kernelSize
        let col = UnsafeMutablePointer<Float>.allocate(capacity: try Tensor.checkedCount([K, cols]))
        defer { col.deallocate() }
        let parts = min(threads, Cg)
        for n in 0..<batch {
            for gi in 0..<group {
                let xg = x + (n * C + gi * Cg) * inPlane
                parallelFor(parts) { p in
                    let c0 = p * Cg / parts, c1 = (p + 1) * Cg / parts
                    if c1 > c0 { im2col2D(xg + c0 * inPlane, channels: c1 - c0, g, col + c0 * kk * cols) }
                }
                gemmSplitRows(m: Mg, n: cols, k: K, a: w + gi * Mg * K, b: col,
                              c: y + (n * M + gi * Mg) * outPlane, epilogue, channel0: gi * Mg)
            }
        }
        return
    }
    let tileFloats = try Tensor.checkedCount([K, maxTileRows * oW])
    let col = UnsafeMutablePointer<Float>.allocate(capacity: try Tensor.checkedCount([workers, tileFloats]))
    defer { col.deallocate() }
    for n in 0..<batch {
        for gi in 0..<group {
            let xg = x + (n * C + gi * Cg) * inPlane
            // Untiled: called directly (so `sgemm` cuts the one GEMM by its shape); tiled: one
            // GEMM per tile inside the loop, whatever the number of workers.
            let each: (Int, (Int) -> Void) -> Void = tiled ? parallelFor : { _, body in body(0) }
            each(workers) { wkr in
                let buf = col + wkr * tileFloats
                var t = wkr
                while t < tiles {
                    let row = t * oH / tiles, rows = (t + 1) * oH / tiles - row
                    im2col2D(xg, channels: Cg, g, buf, firstRow: row, rows: rows)
                    let c = y + (n * M + gi * Mg) * outPlane + row * oW
                    sgemm(m: Mg, n: rows * oW, k: K,
                          a: w + gi * Mg * K, lda: K, b: buf, ldb: rows * oW, beta: 0,
                          c: c, ldc: outPlane)
                    epilogue.apply(c, channel0: gi * Mg, rows: Mg, cols: rows * oW, ldc: outPlane)
                    t += workers
                }
            }
        }
    }
}

/// What `conv2d` does to each block of output rows right after its GEMM: add the bias of
/// each output channel, then clamp to [lo, hi] (a fused Relu or ReLU6).
struct ConvEpilogue {
    let bias: UnsafePointer<Float>?
    let clip: (Float, Float)?

    func apply(_ c: UnsafeMutablePointer<Float>, channel0: Int, rows: Int, cols: Int, ldc: Int) {
        if bias == nil && clip == nil { return }
        for r in 0..<rows {
            let p = c + r * ldc
            let b = bias?[channel0 + r] ?? 0
            if let (lo, hi) = clip {
                for j in 0..<cols { p[j] = min(max(p[j] + b, lo), hi) }
            } else {
                for j in 0..<cols { p[j] += b }
            }
        }
    }
}

/// `parallelFor(n, body)`, except that one iteration runs directly, outside any loop body:
/// `sgemm` then cuts its product by the shape and uses the threads (inside a `parallelFor`
/// body it is one call). Whether a call is direct depends on `n` only, not on the threads.
func forEachOrDirectly(_ n: Int, _ body: (Int) -> Void) {
    if n == 1 { body(0) } else { parallelFor(n, body) }
}

/// `c[m, n] = a[m, k] · b[k, n]`, all row-major and packed, then `epilogue` (row `r` is
/// output channel `channel0 + r`), with the rows of `a` and `c` cut into parts of at least
/// `splitRowsMin` rows (at most `gemmMaxParts`; from the shape only, so the results do not
/// depend on the thread count), run on Loupe's threads, one single-threaded GEMM each.
func gemmSplitRows(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                   c: UnsafeMutablePointer<Float>, _ epilogue: ConvEpilogue, channel0: Int) {
    let config = LoupeConfiguration.current
    let parts = min(config.gemmMaxParts, max(1, m / config.splitRowsMin))
    parallelFor(parts) { p in
        let r0 = p * m / parts, r1 = (p + 1) * m / parts
        guard r1 > r0 else { return }
        sgemm(m: r1 - r0, n: n, k: k, a: a + r0 * k, lda: k, b: b, ldb: n, beta: 0,
              c: c + r0 * n, ldc: n)
        epilogue.apply(c + r0 * n, channel0: channel0 + r0, rows: r1 - r0, cols: n, ldc: n)
    }
}

/// Direct depthwise 2-D convolution: `group == C`, output channel `m` reads input channel
/// `m / multiplier` only. w: `[C * multiplier, 1, kH, kW]`. Parallel over (image, output
/// channel).
public func conv2dDepthwise(
    x: UnsafePointer<Float>, batch: Int, channels C: Int,
    w: UnsafePointer<Float>, multiplier: Int,
    bias: UnsafePointer<Float>?, _ g: ConvGeometry,
    clip: (Float, Float)? = nil,
    y: UnsafeMutablePointer<Float>
) {
    let H = g.input[0], W = g.input[1]
    let kH = g.kernel[0], kW = g.kernel[1]
    let sH = g.strides[0], sW = g.strides[1]
    let dH = g.dilations[0], dW = g.dilations[1]
    let pT = g.padsBegin[0], pL = g.padsBegin[1]
    let oH = g.output[0], oW = g.output[1]
    if isDepthwise3x3(g) {
        depthwise3x3(x: x, batch: batch, channels: C, w: w, multiplier: multiplier, bias: bias, g, clip: clip, y: y)
        return
    }
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
                        // Strided: walk the input with a pointer (no per-element index math).
                        var s = irow + (lo &* sW &+ off)
                        let d = orow + lo
                        for j in 0..<(hi - lo) {
                            d[j] += wv * s.pointee
                            s += sW
                        }
                    }
                }
            }
        }
        if let (lo, hi) = clip {
            for j in 0..<(oH * oW) { out[j] = min(max(out[j], lo), hi) }
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

// MARK: - Backward

/// Output rows per im2col/col2im tile for a window of `K` GEMM rows over `oW`-wide output
/// rows: about `im2colTileFloats` floats, at least `im2colMinTileColumns` columns, at most `oH`.
@inline(__always)
func convTileRows(K: Int, oH: Int, oW: Int) -> Int {
    let config = LoupeConfiguration.current
    var rows = max(1, config.im2colTileFloats / max(1, K * oW))
    rows = max(rows, (config.im2colMinTileColumns + oW - 1) / max(1, oW))
    return max(1, min(rows, oH))
}

/// True when a 2-D window is a plain matrix product over channels (1×1, stride 1, no pads).
@inline(__always)
func isPointwise(_ g: ConvGeometry) -> Bool {
    g.kernel == [1, 1] && g.strides == [1, 1] && g.padsBegin == [0, 0] && g.padsEnd == [0, 0] && g.input == g.output
}

/// Gradient of `conv2d` with respect to its input x (the data gradient), which is also the
/// forward pass of a transposed convolution.
///
/// - dy: `[N, M, oH, oW]`, the gradient of the output
/// - w: `[M, C / group, kH, kW]`
/// - dx: `[N, C, H, W]`, overwritten, or added into with `accumulate`
///
/// Per image, group and tile of output rows: one GEMM `col[Cg*kH*kW, rows*oW] = wᵀ · dy`
/// followed by `col2im2D` (a 1×1 stride-1 unpadded window is a single GEMM into dx).
/// Depthwise windows (`group == C > 1`) use the direct `conv2dDepthwiseBackwardData`.
public func conv2dBackwardData(
    dy: UnsafePointer<Float>, batch: Int, outChannels M: Int,
    w: UnsafePointer<Float>, channels C: Int, group: Int, _ g: ConvGeometry,
    dx: UnsafeMutablePointer<Float>, accumulate: Bool = false
) throws {
    precondition(g.rank == 2 && group > 0 && C % group == 0 && M % group == 0)
    let inPlane = g.inputSize, outPlane = g.outputSize
    if batch == 0 || C == 0 || inPlane == 0 { return }
    if group == C && group > 1 {
        conv2dDepthwiseBackwardData(dy: dy, batch: batch, channels: C, w: w, multiplier: M / C, g, dx: dx,
                                    accumulate: accumulate)
        return
    }
    let pointwise = isPointwise(g)
    if !accumulate && (!pointwise || M == 0) { dx.update(repeating: 0, count: batch * C * inPlane) }
    if outPlane == 0 || M == 0 { return }
    let Cg = C / group, Mg = M / group
    let K = Cg * g.kernelSize
    if pointwise {
        for n in 0..<batch {
            for gi in 0..<group {
                sgemm(transA: true, m: Cg, n: outPlane, k: Mg, a: w + gi * Mg * K, lda: K,
                      b: dy + (n * M + gi * Mg) * outPlane, ldb: outPlane, beta: accumulate ? 1 : 0,
                      c: dx + (n * C + gi * Cg) * inPlane, ldc: inPlane)
            }
        }
        return
    }
    let oH = g.output[0], oW = g.output[1]
    let tileRows = convTileRows(K: K, oH: oH, oW: oW)
    let col = UnsafeMutablePointer<Float>.allocate(capacity: try Tensor.checkedCount([K, tileRows * oW]))
    defer { col.deallocate() }
    for n in 0..<batch {
        for gi in 0..<group {
            let dxg = dx + (n * C + gi * Cg) * inPlane
            var row = 0
            while row < oH {
                let rows = min(tileRows, oH - row)
                sgemm(transA: true, m: K, n: rows * oW, k: Mg, a: w + gi * Mg * K, lda: K,
                      b: dy + (n * M + gi * Mg) * outPlane + row * oW, ldb: outPlane,
                      c: col, ldc: rows * oW)
                col2im2D(col, channels: Cg, g, dxg, firstRow: row, rows: rows)
                row += rows
            }
        }
    }
}

/// Gradient of `conv2d` with respect to its weights.
///
/// - x: `[N, C, H, W]`, the forward input
/// - dy: `[N, M, oH, oW]`
/// - dw: `[M, C / group, kH, kW]`, overwritten, or added into with `accumulate`
///
/// Per image, group and tile of output rows: `im2col2D` of x, then one GEMM
/// `dw[Mg, Cg*kH*kW] += dy · colᵀ`. Depthwise windows use `conv2dDepthwiseBackwardWeight`.
public func conv2dBackwardWeight(
    x: UnsafePointer<Float>, batch: Int, channels C: Int,
    dy: UnsafePointer<Float>, outChannels M: Int, group: Int, _ g: ConvGeometry,
    dw: UnsafeMutablePointer<Float>, accumulate: Bool = false
) throws {
    precondition(g.rank == 2 && group > 0 && C % group == 0 && M % group == 0)
    let Cg = C / group, Mg = M / group
    let K = Cg * g.kernelSize
    if M == 0 || K == 0 { return }
    if group == C && group > 1 {
        conv2dDepthwiseBackwardWeight(x: x, batch: batch, channels: C, dy: dy, multiplier: M / C, g, dw: dw,
                                      accumulate: accumulate)
        return
    }
    if !accumulate { dw.update(repeating: 0, count: M * K) }
    let inPlane = g.inputSize, outPlane = g.outputSize
    if batch == 0 || outPlane == 0 { return }
    if isPointwise(g) {
        for n in 0..<batch {
            for gi in 0..<group {
                sgemm(transB: true, m: Mg, n: K, k: outPlane, a: dy + (n * M + gi * Mg) * outPlane, lda: outPlane,
                      b: x + (n * C + gi * Cg) * inPlane, ldb: inPlane, beta: 1, c: dw + gi * Mg * K, ldc: K)
            }
        }
        return
    }
    let oH = g.output[0], oW = g.output[1]
    let tileRows = convTileRows(K: K, oH: oH, oW: oW)
    let col = UnsafeMutablePointer<Float>.allocate(capacity: try Tensor.checkedCount([K, tileRows * oW]))
    defer { col.deallocate() }
    for n in 0..<batch {
        for gi in 0..<group {
            let xg = x + (n * C + gi * Cg) * inPlane
            var row = 0
            while row < oH {
                let rows = min(tileRows, oH - row)
                im2col2D(xg, channels: Cg, g, col, firstRow: row, rows: rows)
                sgemm(transB: true, m: Mg, n: K, k: rows * oW,
                      a: dy + (n * M + gi * Mg) * outPlane + row * oW, lda: outPlane,
                      b: col, ldb: rows * oW, beta: 1, c: dw + gi * Mg * K, ldc: K)
                row += rows
            }
        }
    }
}

/// Data gradient of `conv2dDepthwise` (`group == C`, output channel `m` reads input channel
/// `m / multiplier`): scatters dy through the kernel taps, parallel over (image, input channel)
/// so that every task writes its own plane of dx.
public func conv2dDepthwiseBackwardData(
    dy: UnsafePointer<Float>, batch: Int, channels C: Int,
    w: UnsafePointer<Float>, multiplier: Int, _ g: ConvGeometry,
    dx: UnsafeMutablePointer<Float>, accumulate: Bool = false
) {
    let H = g.input[0], W = g.input[1]
    let kH = g.kernel[0], kW = g.kernel[1]
    let sH = g.strides[0], sW = g.strides[1]
    let dH = g.dilations[0], dW = g.dilations[1]
    let pT = g.padsBegin[0], pL = g.padsBegin[1]
    let oH = g.output[0], oW = g.output[1]
    let M = C * multiplier
    parallelFor(batch * C) { idx in
        let n = idx / C, c = idx % C
        let plane = dx + idx * H * W
        if !accumulate { plane.update(repeating: 0, count: H * W) }
        for j in 0..<multiplier {
            let m = c * multiplier + j
            let grad = dy + (n * M + m) * oH * oW
            let wk = w + m * kH * kW
            for oh in 0..<oH {
                let grow = grad + oh * oW
                for kh in 0..<kH {
                    let ih = oh * sH - pT + kh * dH
                    if ih < 0 || ih >= H { continue }
                    let xrow = plane + ih * W
                    for kw in 0..<kW {
                        let wv = wk[kh * kW + kw]
                        let off = kw * dW - pL
                        let (lo, hi) = validRange(offset: off, stride: sW, inCount: W, outCount: oW)
                        if lo >= hi { continue }
                        if sW == 1 {
                            let d = xrow + (off + lo), s = grow + lo
                            for t in 0..<(hi - lo) { d[t] += wv * s[t] }
                        } else {
                            for ow in lo..<hi { xrow[ow * sW + off] += wv * grow[ow] }
                        }
                    }
                }
            }
        }
    }
}

/// Weight gradient of `conv2dDepthwise`: `dw[m, kh, kw] = Σ dy[n, m, o] · x[n, m / multiplier, tap]`,
/// parallel over output channels.
public func conv2dDepthwiseBackwardWeight(
    x: UnsafePointer<Float>, batch: Int, channels C: Int,
    dy: UnsafePointer<Float>, multiplier: Int, _ g: ConvGeometry,
    dw: UnsafeMutablePointer<Float>, accumulate: Bool = false
) {
    let H = g.input[0], W = g.input[1]
    let kH = g.kernel[0], kW = g.kernel[1]
    let sH = g.strides[0], sW = g.strides[1]
    let dH = g.dilations[0], dW = g.dilations[1]
    let pT = g.padsBegin[0], pL = g.padsBegin[1]
    let oH = g.output[0], oW = g.output[1]
    let M = C * multiplier
    parallelFor(M) { m in
        let c = m / multiplier
        let wk = dw + m * kH * kW
        if !accumulate { wk.update(repeating: 0, count: kH * kW) }
        for n in 0..<batch {
            let xin = x + (n * C + c) * H * W
            let grad = dy + (n * M + m) * oH * oW
            for kh in 0..<kH {
                for kw in 0..<kW {
                    let off = kw * dW - pL
                    let (lo, hi) = validRange(offset: off, stride: sW, inCount: W, outCount: oW)
                    if lo >= hi { continue }
                    var s: Float = 0
                    for oh in 0..<oH {
                        let ih = oh * sH - pT + kh * dH
                        if ih < 0 || ih >= H { continue }
                        let xrow = xin + ih * W, grow = grad + oh * oW
                        if sW == 1 {
                            let a = xrow + (off + lo), b = grow + lo
                            for t in 0..<(hi - lo) { s += a[t] * b[t] }
                        } else {
                            for ow in lo..<hi { s += xrow[ow * sW + off] * grow[ow] }
                        }
                    }
                    wk[kh * kW + kw] += s
                }
            }
        }
    }
}

/// Bias gradient of a convolution: `db[m] = Σ_n Σ_positions dy[n, m, positions]` for dy
/// `[N, M, plane]`; overwrites db `[M]`.
public func convBackwardBias(dy: UnsafePointer<Float>, batch: Int, channels M: Int, plane: Int,
                             db: UnsafeMutablePointer<Float>) {
    for m in 0..<M {
        var s: Double = 0
        for n in 0..<batch {
            let p = dy + (n * M + m) * plane
            var t: Float = 0
            for i in 0..<plane { t += p[i] }
            s += Double(t)
        }
        db[m] = Float(s)
    }
}

/// The algorithmic reference for the data gradient of a convolution of any spatial rank
/// (also the path for 3-D): every output gradient flows back through every tap to the input
/// position the forward pass read. Layouts as `conv2dBackwardData`; dx is overwritten.
public func convNdBackwardDataNaive(
    dy: UnsafePointer<Float>, batch: Int, outChannels M: Int,
    w: UnsafePointer<Float>, channels C: Int, group: Int, _ g: ConvGeometry,
    dx: UnsafeMutablePointer<Float>
) {
    let r = g.rank
    let Cg = C / group, Mg = M / group
    let inPlane = g.inputSize, outPlane = g.outputSize, kSize = g.kernelSize
    let inStrides = contiguousStrides(g.input)
    var acc = [Double](repeating: 0, count: batch * C * inPlane)
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
                let gv = Double(dy[(n * M + m) * outPlane + o])
                for t in 0..<kSize {
                    var rt = t, idx = 0, inside = true
                    for d in stride(from: r - 1, through: 0, by: -1) {
                        let p = start[d] + (rt % g.kernel[d]) * g.dilations[d]
                        rt /= g.kernel[d]
                        if p < 0 || p >= g.input[d] { inside = false }
                        idx += p * inStrides[d]
                    }
                    if !inside { continue }
                    for cg in 0..<Cg {
                        let c = gi * Cg + cg
                        acc[(n * C + c) * inPlane + idx] += gv * Double(w[(m * Cg + cg) * kSize + t])
                    }
                }
            }
        }
    }
    for i in 0..<acc.count { dx[i] = Float(acc[i]) }
}

/// The algorithmic reference for the weight gradient of a convolution of any spatial rank
/// (also the path for 3-D). Layouts as `conv2dBackwardWeight`; dw is overwritten.
public func convNdBackwardWeightNaive(
    x: UnsafePointer<Float>, batch: Int, channels C: Int,
    dy: UnsafePointer<Float>, outChannels M: Int, group: Int, _ g: ConvGeometry,
    dw: UnsafeMutablePointer<Float>
) {
    let r = g.rank
    let Cg = C / group, Mg = M / group
    let inPlane = g.inputSize, outPlane = g.outputSize, kSize = g.kernelSize
    let inStrides = contiguousStrides(g.input)
    var acc = [Double](repeating: 0, count: M * Cg * kSize)
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
                let gv = Double(dy[(n * M + m) * outPlane + o])
                for t in 0..<kSize {
                    var rt = t, idx = 0, inside = true
                    for d in stride(from: r - 1, through: 0, by: -1) {
                        let p = start[d] + (rt % g.kernel[d]) * g.dilations[d]
                        rt /= g.kernel[d]
                        if p < 0 || p >= g.input[d] { inside = false }
                        idx += p * inStrides[d]
                    }
                    if !inside { continue }
                    for cg in 0..<Cg {
                        let c = gi * Cg + cg
                        acc[(m * Cg + cg) * kSize + t] += gv * Double(x[(n * C + c) * inPlane + idx])
                    }
                }
            }
        }
    }
    for i in 0..<acc.count { dw[i] = Float(acc[i]) }
}
