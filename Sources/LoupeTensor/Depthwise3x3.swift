/// Depthwise 3×3 convolution, stride 1 or 2, dilation 1: the MobileNet case.
///
/// Each output row is computed once: the three input rows it reads are combined in SIMD
/// registers (eight outputs at a time) and stored once, instead of one pass over the output
/// row per kernel tap as in the general `conv2dDepthwise`. Columns whose window reaches into
/// the padding, and the last few columns, take a scalar path with bounds checks.

/// Whether `depthwise3x3` handles this geometry.
func isDepthwise3x3(_ g: ConvGeometry) -> Bool {
    g.rank == 2 && g.kernel == [3, 3] && g.dilations == [1, 1]
        && (g.strides == [1, 1] || g.strides == [2, 2])
        && g.padsBegin.allSatisfy({ $0 <= 2 }) && g.padsEnd.allSatisfy({ $0 <= 2 })
}

/// `conv2dDepthwise` for `isDepthwise3x3` geometries; parallel over (image, output channel).
/// `clip` clamps each output row once it is computed (a fused Relu or ReLU6).
func depthwise3x3(
    x: UnsafePointer<Float>, batch: Int, channels C: Int,
    w: UnsafePointer<Float>, multiplier: Int,
    bias: UnsafePointer<Float>?, _ g: ConvGeometry,
    clip: (Float, Float)? = nil,
    y: UnsafeMutablePointer<Float>
) {
    let H = g.input[0], W = g.input[1]
    let s = g.strides[0]
    let pT = g.padsBegin[0], pL = g.padsBegin[1]
    let oH = g.output[0], oW = g.output[1]
    let M = C * multiplier
    // Output columns whose whole window lies inside the row: j·s − pL ≥ 0 and
    // j·s − pL + 2 ≤ W − 1.
    let jLo = min(oW, (pL + s - 1) / s)
    let jHi = max(jLo, min(oW, W - 3 + pL >= 0 ? (W - 3 + pL) / s + 1 : 0))
    // Vector blocks of 8 outputs read input columns up to base + 7·s + 2 (stride 1) or
    // base + 17 (stride 2, two 16-wide loads); they must stay inside the row.
    let span = s == 1 ? 10 : 18
    parallelFor(batch * M) { idx in
        let m = idx % M, n = idx / M
        let xin = x + (n * C + m / multiplier) * H * W
        let out = y + idx * oH * oW
        let k = w + m * 9
        let b = bias?[m] ?? 0
        for oh in 0..<oH {
            let orow = out + oh * oW
            // The kernel rows that land inside the image for this output row.
            let ih0 = oh * s - pT
            let khLo = max(0, -ih0), khHi = min(3, H - ih0)
            let base = xin + ih0 * W
            // Columns whose window reaches into the padding: bounds-checked.
            func edge(_ j: Int) {
                var acc = b
                let c0 = j * s - pL
                for kh in khLo..<max(khLo, khHi) {
                    let r = base + kh * W
                    for kw in 0..<3 where c0 + kw >= 0 && c0 + kw < W { acc += k[kh * 3 + kw] * r[c0 + kw] }
                }
                orow[j] = acc
            }
            // Inside columns: no checks.
            func inside(_ j: Int) {
                var acc = b
                let c0 = j * s - pL
                for kh in khLo..<max(khLo, khHi) {
                    let r = base + kh * W + c0, kk = k + kh * 3
                    // One tap at a time, in the general kernel's order (same rounding).
                    acc += kk[0] * r[0]
                    acc += kk[1] * r[1]
                    acc += kk[2] * r[2]
                }
                orow[j] = acc
            }
            for j in 0..<jLo { edge(j) }
            var j = jLo
            while j + 8 <= jHi && (j * s - pL) + span <= W {
                var acc = SIMD8<Float>(repeating: b)
                let c0 = j * s - pL
                for kh in khLo..<max(khLo, khHi) {
                    let p = UnsafeRawPointer(base + kh * W + c0), kk = k + kh * 3
                    if s == 1 {
                        acc += kk[0] * p.loadUnaligned(as: SIMD8<Float>.self)
                        acc += kk[1] * p.loadUnaligned(fromByteOffset: 4, as: SIMD8<Float>.self)
                        acc += kk[2] * p.loadUnaligned(fromByteOffset: 8, as: SIMD8<Float>.self)
                    } else {
                        let v = p.loadUnaligned(as: SIMD16<Float>.self)
                        let v2 = p.loadUnaligned(fromByteOffset: 8, as: SIMD16<Float>.self)
                        acc += kk[0] * v.evenHalf
                        acc += kk[1] * v.oddHalf
                        acc += kk[2] * v2.evenHalf
                    }
                }
                UnsafeMutableRawPointer(orow + j).storeBytes(of: acc, as: SIMD8<Float>.self)
                j += 8
            }
            while j < jHi { inside(j); j += 1 }
            while j < oW { edge(j); j += 1 }
            // The fused Relu/ReLU6, on the row while it is in cache (a plain loop vectorises;
            // SIMD8's pointwiseMin/Max did not).
            if let (lo, hi) = clip {
                for j in 0..<oW { orow[j] = min(max(orow[j], lo), hi) }
            }
        }
    }
}
