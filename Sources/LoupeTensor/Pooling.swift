/// Pooling kernels (ONNX MaxPool, AveragePool, LpPool, GlobalAveragePool, GlobalMaxPool).
///
/// Layouts, row-major: x `[planes, input...]`, y `[planes, output...]`, where
/// `planes = N * C` and the spatial geometry is `g` (see `ConvGeometry`; `kernel`, `strides`,
/// `dilations` and pads as the op's attributes give them, `output` already resolved for
/// `ceil_mode`/`auto_pad`). Padding never contributes a value: max and Lp pooling use only
/// taps inside the input; average pooling divides the sum of those taps by their count, or
/// with `countIncludePad` by the number of taps inside the padded extent
/// `-padsBegin ..< input + padsEnd` (taps beyond it, which `ceil_mode` can create, are
/// never counted).

public enum PoolKind: Sendable, Equatable {
    case max
    case average(countIncludePad: Bool)
    /// (Σ |x|^p)^(1/p) over the taps inside the input.
    case lp(p: Float)
}

/// Pooling over any spatial rank: a direct 2-D kernel for rank 1 and 2, the generic
/// `poolNdNaive` otherwise.
public func pool(_ kind: PoolKind, x: UnsafePointer<Float>, planes: Int, _ g: ConvGeometry, y: UnsafeMutablePointer<Float>) {
    if let g2 = g.as2D {
        pool2d(kind, x: x, planes: planes, g2, y: y)
    } else {
        poolNdNaive(kind, x: x, planes: planes, g, y: y)
    }
}

/// Per output index along one dimension: the taps `lo..<hi` inside the input, and the
/// number of taps inside the padded extent.
private func tapRanges(outCount: Int, inCount: Int, kernel: Int, stride: Int, dilation: Int,
                       padBegin: Int, padEnd: Int) -> (lo: [Int], hi: [Int], padded: [Int]) {
    var lo = [Int](repeating: 0, count: outCount), hi = lo, padded = lo
    for o in 0..<outCount {
        let start = o * stride - padBegin
        (lo[o], hi[o]) = validRange(offset: start, stride: dilation, inCount: inCount, outCount: kernel)
        let (pl, ph) = validRange(offset: start + padBegin, stride: dilation, inCount: inCount + padBegin + padEnd, outCount: kernel)
        padded[o] = ph - pl
    }
    return (lo, hi, padded)
}

/// Direct 2-D pooling (`g.rank == 2`), parallel over planes.
public func pool2d(_ kind: PoolKind, x: UnsafePointer<Float>, planes: Int, _ g: ConvGeometry, y: UnsafeMutablePointer<Float>) {
    let H = g.input[0], W = g.input[1]
    let oH = g.output[0], oW = g.output[1]
    let sH = g.strides[0], sW = g.strides[1]
    let dH = g.dilations[0], dW = g.dilations[1]
    let pT = g.padsBegin[0], pL = g.padsBegin[1]
    let rh = tapRanges(outCount: oH, inCount: H, kernel: g.kernel[0], stride: sH, dilation: dH, padBegin: pT, padEnd: g.padsEnd[0])
    let rw = tapRanges(outCount: oW, inCount: W, kernel: g.kernel[1], stride: sW, dilation: dW, padBegin: pL, padEnd: g.padsEnd[1])
    rh.lo.withUnsafeBufferPointer { hLo in rh.hi.withUnsafeBufferPointer { hHi in rh.padded.withUnsafeBufferPointer { hPad in
    rw.lo.withUnsafeBufferPointer { wLo in rw.hi.withUnsafeBufferPointer { wHi in rw.padded.withUnsafeBufferPointer { wPad in
        // Plain pointers in locals and the kind switched outside the loops: buffer pointers
        // captured by the closure were reloaded on every element.
        let hLo = hLo.baseAddress!, hHi = hHi.baseAddress!, hPad = hPad.baseAddress!
        let wLo = wLo.baseAddress!, wHi = wHi.baseAddress!, wPad = wPad.baseAddress!
        parallelFor(planes) { pl in
            let xin = x + pl * H * W
            let out = y + pl * oH * oW
            let colMax = UnsafeMutablePointer<Float>.allocate(capacity: kind == .max ? W : 0)
            defer { colMax.deallocate() }
            for oh in 0..<oH {
                let hs = oh * sH - pT
                let orow = out + oh * oW
                let kh0 = hLo[oh], kh1 = hHi[oh]
                switch kind {
                case .max:
                    // Separable: the maximum down the window's rows for every input column
                    // (contiguous, vectorises), then across each window's columns.
                    colMax.update(repeating: -Float.infinity, count: W)
                    for kh in kh0..<kh1 {
                        let row = xin + (hs + kh * dH) * W
                        for c in 0..<W { colMax[c] = Swift.max(colMax[c], row[c]) }
                    }
                    for ow in 0..<oW {
                        let t = colMax + (ow * sW - pL)
                        var m = -Float.infinity
                        for kw in wLo[ow]..<wHi[ow] { m = Swift.max(m, t[kw * dW]) }
                        orow[ow] = m
                    }
                case .average(let includePad):
                    for ow in 0..<oW {
                        let ws = ow * sW - pL
                        var s: Float = 0
                        for kh in kh0..<kh1 {
                            let row = xin + (hs + kh * dH) * W + ws
                            for kw in wLo[ow]..<wHi[ow] { s += row[kw * dW] }
                        }
                        let n = includePad ? hPad[oh] * wPad[ow] : (kh1 - kh0) * (wHi[ow] - wLo[ow])
                        orow[ow] = s / Float(n)
                    }
                case .lp(let p):
                    for ow in 0..<oW {
                        let ws = ow * sW - pL
                        var s: Float = 0
                        for kh in kh0..<kh1 {
                            let row = xin + (hs + kh * dH) * W + ws
                            for kw in wLo[ow]..<wHi[ow] {
                                let v = abs(row[kw * dW])
                                s += p == 2 ? v * v : (p == 1 ? v : Foundation.pow(v, p))
                            }
                        }
                        orow[ow] = p == 2 ? s.squareRoot() : (p == 1 ? s : Foundation.pow(s, 1 / p))
                    }
                }
            }
        }
    }}}}}}
}

/// Pooling over any spatial rank with direct loops: the reference for `pool2d` and the
/// path for 3-D.
public func poolNdNaive(_ kind: PoolKind, x: UnsafePointer<Float>, planes: Int, _ g: ConvGeometry, y: UnsafeMutablePointer<Float>) {
    let r = g.rank
    let inPlane = g.inputSize, outPlane = g.outputSize, kSize = g.kernelSize
    let inStrides = contiguousStrides(g.input)
    var start = [Int](repeating: 0, count: r)
    for pl in 0..<planes {
        let xin = x + pl * inPlane
        for o in 0..<outPlane {
            var rem = o
            for d in stride(from: r - 1, through: 0, by: -1) {
                start[d] = (rem % g.output[d]) * g.strides[d] - g.padsBegin[d]
                rem /= g.output[d]
            }
            var m = -Double.infinity, s = 0.0
            var inside = 0, padded = 0
            for t in 0..<kSize {
                var rt = t, idx = 0
                var isIn = true, isPadded = true
                for d in stride(from: r - 1, through: 0, by: -1) {
                    let p = start[d] + (rt % g.kernel[d]) * g.dilations[d]
                    rt /= g.kernel[d]
                    if p < 0 || p >= g.input[d] { isIn = false }
                    if p < -g.padsBegin[d] || p >= g.input[d] + g.padsEnd[d] { isPadded = false }
                    idx += p * inStrides[d]
                }
                if isPadded { padded += 1 }
                if !isIn { continue }
                inside += 1
                let v = Double(xin[idx])
                switch kind {
                case .max: m = Swift.max(m, v)
                case .average: s += v
                case .lp(let p): s += Foundation.pow(Swift.abs(v), Double(p))
                }
            }
            let out: Double
            switch kind {
            case .max: out = m
            case .average(let includePad): out = s / Double(includePad ? padded : inside)
            case .lp(let p): out = Foundation.pow(s, 1 / Double(p))
            }
            y[pl * outPlane + o] = Float(out)
        }
    }
}

/// Global pooling: y[plane] = mean or max of x[plane, 0..<size]. x `[planes, size]`, y `[planes]`.
public func globalPool(max: Bool, x: UnsafePointer<Float>, planes: Int, size: Int, y: UnsafeMutablePointer<Float>) {
    for pl in 0..<planes {
        let p = x + pl * size
        if max {
            var m = -Float.infinity
            for i in 0..<size { m = Swift.max(m, p[i]) }
            y[pl] = m
        } else {
            var s: Float = 0
            for i in 0..<size { s += p[i] }
            y[pl] = s / Float(size)
        }
    }
}

import Foundation

/// Max pooling that also returns, for every output, where its maximum came from (ONNX
/// MaxPool's optional Indices output): the flat index into x `[planes, input...]`,
/// row-major, or with `columnMajor` (storage_order = 1) with the spatial dimensions
/// reversed. The first maximal tap in row-major order wins ties. Any spatial rank.
public func maxPoolWithIndices(x: UnsafePointer<Float>, planes: Int, _ g: ConvGeometry, columnMajor: Bool,
                               y: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int64>) {
    let r = g.rank
    let inPlane = g.inputSize, outPlane = g.outputSize, kSize = g.kernelSize
    let inStrides = contiguousStrides(g.input)
    let colStrides = contiguousStrides(g.input.reversed()).reversed() as [Int]
    var start = [Int](repeating: 0, count: r)
    for pl in 0..<planes {
        for o in 0..<outPlane {
            var rem = o
            for d in stride(from: r - 1, through: 0, by: -1) {
                start[d] = (rem % g.output[d]) * g.strides[d] - g.padsBegin[d]
                rem /= g.output[d]
            }
            var best = -Float.infinity, bestIndex = -1
            for t in 0..<kSize {
                var rt = t, idx = 0, cidx = 0, inside = true
                for d in stride(from: r - 1, through: 0, by: -1) {
                    let p = start[d] + (rt % g.kernel[d]) * g.dilations[d]
                    rt /= g.kernel[d]
                    if p < 0 || p >= g.input[d] { inside = false }
                    idx += p * inStrides[d]
                    cidx += p * colStrides[d]
                }
                if !inside { continue }
                let v = x[pl * inPlane + idx]
                if bestIndex < 0 || v > best { best = v; bestIndex = columnMajor ? cidx : idx }
            }
            y[pl * outPlane + o] = best
            indices[pl * outPlane + o] = Int64(pl * inPlane + max(bestIndex, 0))
        }
    }
}

// MARK: - Backward

/// Gradient of `pool` with respect to x. Layouts as `pool`; `y` is the forward output (read
/// by `.lp` only), `dy` its gradient `[planes, output...]`, and dx `[planes, input...]` is
/// overwritten.
/// - max: each output's gradient goes to its maximal tap, the first in row-major scan order
///   on ties (as PyTorch);
/// - average: spread evenly over the taps inside the input, divided by the forward divisor;
/// - lp: `dy · sign(x) |x|^(p-1) / y^(p-1)` per tap (0 where y is 0).
public func poolBackward(_ kind: PoolKind, x: UnsafePointer<Float>, y: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                         planes: Int, _ g: ConvGeometry, dx: UnsafeMutablePointer<Float>) {
    if let g2 = g.as2D {
        pool2dBackward(kind, x: x, y: y, dy: dy, planes: planes, g2, dx: dx)
    } else {
        poolNdBackwardNaive(kind, x: x, y: y, dy: dy, planes: planes, g, dx: dx)
    }
}

/// d/dx of `(Σ |x|^p)^(1/p)` times `gy`, given the pooled value `yv`.
@inline(__always)
func lpTapGradient(_ v: Float, _ yv: Float, _ gy: Float, _ p: Float) -> Float {
    if yv == 0 || v == 0 { return 0 }
    let sign: Float = v < 0 ? -1 : 1
    if p == 2 { return gy * v / yv }
    if p == 1 { return gy * sign }
    return gy * sign * Foundation.pow(abs(v) / yv, p - 1)
}

/// Direct 2-D pooling backward (`g.rank == 2`), parallel over planes.
public func pool2dBackward(_ kind: PoolKind, x: UnsafePointer<Float>, y: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                           planes: Int, _ g: ConvGeometry, dx: UnsafeMutablePointer<Float>) {
    let H = g.input[0], W = g.input[1]
    let oH = g.output[0], oW = g.output[1]
    let sH = g.strides[0], sW = g.strides[1]
    let dH = g.dilations[0], dW = g.dilations[1]
    let pT = g.padsBegin[0], pL = g.padsBegin[1]
    let rh = tapRanges(outCount: oH, inCount: H, kernel: g.kernel[0], stride: sH, dilation: dH, padBegin: pT, padEnd: g.padsEnd[0])
    let rw = tapRanges(outCount: oW, inCount: W, kernel: g.kernel[1], stride: sW, dilation: dW, padBegin: pL, padEnd: g.padsEnd[1])
    rh.lo.withUnsafeBufferPointer { hLo in rh.hi.withUnsafeBufferPointer { hHi in rh.padded.withUnsafeBufferPointer { hPad in
    rw.lo.withUnsafeBufferPointer { wLo in rw.hi.withUnsafeBufferPointer { wHi in rw.padded.withUnsafeBufferPointer { wPad in
        parallelFor(planes) { pl in
            let xin = x + pl * H * W
            let din = dx + pl * H * W
            let gout = dy + pl * oH * oW
            let yout = y + pl * oH * oW
            din.update(repeating: 0, count: H * W)
            for oh in 0..<oH {
                let hs = oh * sH - pT
                for ow in 0..<oW {
                    let ws = ow * sW - pL
                    let gv = gout[oh * oW + ow]
                    switch kind {
                    case .max:
                        var best = -Float.infinity, at = -1
                        for kh in hLo[oh]..<hHi[oh] {
                            let rowStart = (hs + kh * dH) * W + ws
                            for kw in wLo[ow]..<wHi[ow] {
                                let v = xin[rowStart + kw * dW]
                                if at < 0 || v > best || (v.isNaN && !best.isNaN) { best = v; at = rowStart + kw * dW }
                            }
                        }
                        if at >= 0 { din[at] += gv }
                    case .average(let includePad):
                        let n = includePad ? hPad[oh] * wPad[ow] : (hHi[oh] - hLo[oh]) * (wHi[ow] - wLo[ow])
                        if n == 0 { continue }
                        let share = gv / Float(n)
                        for kh in hLo[oh]..<hHi[oh] {
                            let row = din + (hs + kh * dH) * W + ws
                            for kw in wLo[ow]..<wHi[ow] { row[kw * dW] += share }
                        }
                    case .lp(let p):
                        let yv = yout[oh * oW + ow]
                        for kh in hLo[oh]..<hHi[oh] {
                            let rowStart = (hs + kh * dH) * W + ws
                            for kw in wLo[ow]..<wHi[ow] {
                                let i = rowStart + kw * dW
                                din[i] += lpTapGradient(xin[i], yv, gv, p)
                            }
                        }
                    }
                }
            }
        }
    }}}}}}
}

/// Pooling backward over any spatial rank with direct loops: the reference for
/// `pool2dBackward` and the path for 3-D.
public func poolNdBackwardNaive(_ kind: PoolKind, x: UnsafePointer<Float>, y: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                planes: Int, _ g: ConvGeometry, dx: UnsafeMutablePointer<Float>) {
    let r = g.rank
    let inPlane = g.inputSize, outPlane = g.outputSize, kSize = g.kernelSize
    let inStrides = contiguousStrides(g.input)
    var start = [Int](repeating: 0, count: r)
    var taps = [Int](repeating: 0, count: kSize)
    dx.update(repeating: 0, count: planes * inPlane)
    for pl in 0..<planes {
        let xin = x + pl * inPlane, din = dx + pl * inPlane
        for o in 0..<outPlane {
            var rem = o
            for d in stride(from: r - 1, through: 0, by: -1) {
                start[d] = (rem % g.output[d]) * g.strides[d] - g.padsBegin[d]
                rem /= g.output[d]
            }
            var inside = 0, padded = 0
            for t in 0..<kSize {
                var rt = t, idx = 0
                var isIn = true, isPadded = true
                for d in stride(from: r - 1, through: 0, by: -1) {
                    let p = start[d] + (rt % g.kernel[d]) * g.dilations[d]
                    rt /= g.kernel[d]
                    if p < 0 || p >= g.input[d] { isIn = false }
                    if p < -g.padsBegin[d] || p >= g.input[d] + g.padsEnd[d] { isPadded = false }
                    idx += p * inStrides[d]
                }
                if isPadded { padded += 1 }
                if isIn { taps[inside] = idx; inside += 1 }
            }
            let gv = dy[pl * outPlane + o]
            switch kind {
            case .max:
                var best = -Float.infinity, at = -1
                for j in 0..<inside {
                    let v = xin[taps[j]]
                    if at < 0 || v > best || (v.isNaN && !best.isNaN) { best = v; at = taps[j] }
                }
                if at >= 0 { din[at] += gv }
            case .average(let includePad):
                let n = includePad ? padded : inside
                if n == 0 { continue }
                for j in 0..<inside { din[taps[j]] += gv / Float(n) }
            case .lp(let p):
                let yv = y[pl * outPlane + o]
                for j in 0..<inside { din[taps[j]] += lpTapGradient(xin[taps[j]], yv, gv, p) }
            }
        }
    }
}

/// Gradient of `globalPool`: dx `[planes, size]` (overwritten) from dy `[planes]`; the mean
/// spreads dy evenly, the max sends it to the first maximal position.
public func globalPoolBackward(max: Bool, x: UnsafePointer<Float>, dy: UnsafePointer<Float>, planes: Int, size: Int,
                               dx: UnsafeMutablePointer<Float>) {
    parallelFor(planes) { pl in
        let p = x + pl * size, d = dx + pl * size
        if max {
            d.update(repeating: 0, count: size)
            var best = -Float.infinity, at = -1
            for i in 0..<size where at < 0 || p[i] > best || (p[i].isNaN && !best.isNaN) { best = p[i]; at = i }
            if at >= 0 { d[at] = dy[pl] }
        } else {
            d.update(repeating: dy[pl] / Float(size), count: size)
        }
    }
}
