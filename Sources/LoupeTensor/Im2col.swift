/// Window geometry shared by convolution, transposed convolution and pooling, and the
/// im2col / col2im lowering that turns a 2-D convolution into one GEMM
/// (Chellapilla, Puri & Simard, "High Performance Convolutional Neural Networks for
/// Document Processing", 2006).

/// The spatial geometry of a sliding window (any number of spatial dimensions).
///
/// Output position `o` along dimension `i` reads input positions
/// `o * strides[i] - padsBegin[i] + k * dilations[i]` for `k` in `0..<kernel[i]`; positions
/// outside `0..<input[i]` are padding. For a transposed convolution, `input` is the
/// transposed convolution's *output* and `output` its input (the forward convolution it
/// transposes).
public struct ConvGeometry: Sendable, Hashable, CustomStringConvertible {
    public var input: [Int]
    public var kernel: [Int]
    public var strides: [Int]
    public var dilations: [Int]
    public var padsBegin: [Int]
    public var padsEnd: [Int]
    public var output: [Int]

    public init(input: [Int], kernel: [Int], strides: [Int], dilations: [Int],
                padsBegin: [Int], padsEnd: [Int], output: [Int]) {
        self.input = input
        self.kernel = kernel
        self.strides = strides
        self.dilations = dilations
        self.padsBegin = padsBegin
        self.padsEnd = padsEnd
        self.output = output
    }

    public var rank: Int { input.count }
    public var inputSize: Int { input.reduce(1, *) }
    public var outputSize: Int { output.reduce(1, *) }
    public var kernelSize: Int { kernel.reduce(1, *) }

    /// Rank-1 geometry lifted to rank 2 with H = 1 (so 1-D ops use the 2-D kernels);
    /// rank 2 unchanged; nil for rank 0 or > 2.
    public var as2D: ConvGeometry? {
        switch rank {
        case 2: return self
        case 1:
            return ConvGeometry(input: [1] + input, kernel: [1] + kernel, strides: [1] + strides,
                                dilations: [1] + dilations, padsBegin: [0] + padsBegin,
                                padsEnd: [0] + padsEnd, output: [1] + output)
        default: return nil
        }
    }

    public var description: String {
        "input \(describe(input)) kernel \(describe(kernel)) strides \(describe(strides)) dilations \(describe(dilations)) pads \(describe(padsBegin + padsEnd)) output \(describe(output))"
    }
}

/// `ceil(a / b)` for b > 0 and any sign of a.
@inline(__always)
func ceilDiv(_ a: Int, _ b: Int) -> Int {
    a >= 0 ? (a + b - 1) / b : -((-a) / b)
}

/// The output positions `lo..<hi` (clamped to `0..<outCount`) whose input position
/// `o * stride + offset` falls inside `0..<inCount`.
@inline(__always)
func validRange(offset: Int, stride: Int, inCount: Int, outCount: Int) -> (Int, Int) {
    let lo = offset >= 0 ? 0 : ceilDiv(-offset, stride)
    let last = inCount - 1 - offset
    let hi = last < 0 ? 0 : last / stride + 1
    let l = min(lo, outCount), h = min(max(hi, 0), outCount)
    return (l, max(l, h))
}

/// im2col for a 2-D window (`g.rank == 2`; lift 1-D with `as2D`).
///
/// - x: one image, `[channels, H, W]` row-major.
/// - col: `[channels * kH * kW, rows * oW]` row-major, for the output rows
///   `firstRow ..< firstRow + rows` (default: all `oH`); row `(c * kH + kh) * kW + kw` holds
///   the input value each output position reads through kernel tap `(kh, kw)` of channel
///   `c`, or 0 where that tap lands in padding.
public func im2col2D(_ x: UnsafePointer<Float>, channels: Int, _ g: ConvGeometry, _ col: UnsafeMutablePointer<Float>,
                     firstRow: Int = 0, rows outRows: Int? = nil) {
    let H = g.input[0], W = g.input[1]
    let kH = g.kernel[0], kW = g.kernel[1]
    let sH = g.strides[0], sW = g.strides[1]
    let dH = g.dilations[0], dW = g.dilations[1]
    let pT = g.padsBegin[0], pL = g.padsBegin[1]
    let oW = g.output[1]
    let oH = outRows ?? g.output[0]
    let plane = oH * oW
    let rows = channels * kH * kW
    parallelFor(rows) { r in
        let c = r / (kH * kW)
        let kh = (r / kW) % kH
        let kw = r % kW
        let dst = col + r * plane
        let src = x + c * H * W
        let off = kw * dW - pL
        let (lo, hi) = validRange(offset: off, stride: sW, inCount: W, outCount: oW)
        for oh in 0..<oH {
            let row = dst + oh * oW
            let ih = (firstRow + oh) * sH - pT + kh * dH
            if ih < 0 || ih >= H || lo >= hi {
                row.update(repeating: 0, count: oW)
                continue
            }
            if lo > 0 { row.update(repeating: 0, count: lo) }
            if hi < oW { (row + hi).update(repeating: 0, count: oW - hi) }
            let base = ih * W + off
            if sW == 1 {
                (row + lo).update(from: src + (base + lo), count: hi - lo)
            } else {
                for ow in lo..<hi { row[ow] = src[base + ow * sW] }
            }
        }
    }
}

/// col2im for a 2-D window: the adjoint of `im2col2D`. Adds every column entry into the
/// image position it was read from (entries that read padding are dropped).
///
/// - col: `[channels * kH * kW, rows * oW]` as `im2col2D` writes it, for the output rows
///   `firstRow ..< firstRow + rows` (default: all `oH`).
/// - y: `[channels, H, W]`, accumulated into (initialise it first, e.g. with zeros or bias).
public func col2im2D(_ col: UnsafePointer<Float>, channels: Int, _ g: ConvGeometry, _ y: UnsafeMutablePointer<Float>,
                     firstRow: Int = 0, rows outRows: Int? = nil) {
    let H = g.input[0], W = g.input[1]
    let kH = g.kernel[0], kW = g.kernel[1]
    let sH = g.strides[0], sW = g.strides[1]
    let dH = g.dilations[0], dW = g.dilations[1]
    let pT = g.padsBegin[0], pL = g.padsBegin[1]
    let oW = g.output[1]
    let oH = outRows ?? g.output[0]
    let plane = oH * oW
    // One task per channel: each writes its own image plane.
    parallelFor(channels) { c in
        let dstPlane = y + c * H * W
        for kh in 0..<kH {
            for kw in 0..<kW {
                let src = col + ((c * kH + kh) * kW + kw) * plane
                let off = kw * dW - pL
                let (lo, hi) = validRange(offset: off, stride: sW, inCount: W, outCount: oW)
                if lo >= hi { continue }
                for oh in 0..<oH {
                    let ih = (firstRow + oh) * sH - pT + kh * dH
                    if ih < 0 || ih >= H { continue }
                    let row = src + oh * oW
                    let base = ih * W + off
                    if sW == 1 {
                        let d = dstPlane + (base + lo), r = row + lo
                        for j in 0..<(hi - lo) { d[j] += r[j] }
                    } else {
                        for ow in lo..<hi { dstPlane[base + ow * sW] += row[ow] }
                    }
                }
            }
        }
    }
}
