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
        parallelFor(planes) { pl in
            let xin = x + pl * H * W
            let out = y + pl * oH * oW
            for oh in 0..<oH {
                let hs = oh * sH - pT
                let orow = out + oh * oW
                for ow in 0..<oW {
                    let ws = ow * sW - pL
                    switch kind {
                    case .max:
                        var m = -Float.infinity
                        for kh in hLo[oh]..<hHi[oh] {
                            let row = xin + (hs + kh * dH) * W + ws
                            for kw in wLo[ow]..<wHi[ow] { m = Swift.max(m, row[kw * dW]) }
                        }
                        orow[ow] = m
                    case .average(let includePad):
                        var s: Float = 0
                        for kh in hLo[oh]..<hHi[oh] {
                            let row = xin + (hs + kh * dH) * W + ws
                            for kw in wLo[ow]..<wHi[ow] { s += row[kw * dW] }
                        }
                        let n = includePad ? hPad[oh] * wPad[ow] : (hHi[oh] - hLo[oh]) * (wHi[ow] - wLo[ow])
                        orow[ow] = s / Float(n)
                    case .lp(let p):
                        var s: Float = 0
                        for kh in hLo[oh]..<hHi[oh] {
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
