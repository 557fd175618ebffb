import CFFTW
import Foundation
import LoupeTensor

/// t-SNE's repulsive forces by FFT-accelerated interpolation (FIt-SNE: Linderman, Rachh,
/// Hoskins, Steinerberger and Kluger, "Fast interpolation-based t-SNE for improved
/// visualization of single-cell RNA-seq data", Nature Methods 16, 2019), as openTSNE's
/// `estimate_negative_gradient_fft_2d` computes them. The only file that imports FFTW.
///
/// The square [min, max]² around the embedding (N × 2, float64) is cut into B × B equal boxes,
/// B = max(`minBoxes`, extent / `boxWidth`) rounded up to a size FFTW likes (at most 1,000);
/// each box has `nodesPerBox`² interpolation nodes (3 × 3, at the centres of its thirds).
/// The four sums φ_d(yᵢ) = Σⱼ K(yᵢ, yⱼ) v_d(yⱼ), K = (1 + |yᵢ - yⱼ|²)⁻², v = (1, y₀, y₁, |y|²),
/// are (1) spread from the points onto the nodes with Lagrange polynomials, (2) convolved with
/// K on the node grid (G × G, G = 3B; a Toeplitz product, done as a circular convolution of
/// size 2G × 2G by FFTW in float32), (3) interpolated back to the points. Then
/// Z = Σᵢ (1 + |yᵢ|²) φ₀ - 2 yᵢ·(φ₁, φ₂) + φ₃ - N, and the force on i is -(yᵢ φ₀ - (φ₁, φ₂)) / Z.
///
/// Deterministic whatever the thread count: FFTW plans are made with FFTW_ESTIMATE (never
/// timed), the spreading runs by ranges of boxes over points sorted by box (each grid value
/// summed in point order), the four convolutions run in parallel on buffers of their own.
final class TSNEInterpolation {
    let nodesPerBox: Int
    let minBoxes: Int
    let boxWidth: Double

    /// FFT side 2G the plans and buffers are for.
    private var size = 0
    private var forward: fftwf_plan?
    private var backward: fftwf_plan?
    /// 5 real buffers (kernel + 4 terms), 2G × 2G, and 5 complex ones, 2G × (G + 1).
    private var real: [UnsafeMutablePointer<Float>] = []
    private var spectra: [UnsafeMutablePointer<fftwf_complex>] = []

    init(nodesPerBox: Int, minBoxes: Int, boxWidth: Double) {
        self.nodesPerBox = nodesPerBox
        self.minBoxes = minBoxes
        self.boxWidth = boxWidth
    }

    deinit { release() }

    private func release() {
        if let forward { fftwf_destroy_plan(forward) }
        if let backward { fftwf_destroy_plan(backward) }
        forward = nil
        backward = nil
        for p in real { fftwf_free(p) }
        for p in spectra { fftwf_free(p) }
        real = []
        spectra = []
        size = 0
    }

    /// Plans and buffers for an FFT of side `s` (kept while the size stays).
    private func prepare(_ s: Int) {
        if s == size { return }
        release()
        size = s
        let complexCount = s * (s / 2 + 1)
        for _ in 0..<5 {
            real.append(fftwf_malloc(MemoryLayout<Float>.stride * s * s)!.bindMemory(to: Float.self, capacity: s * s))
            spectra.append(fftwf_malloc(MemoryLayout<fftwf_complex>.stride * complexCount)!
                .bindMemory(to: fftwf_complex.self, capacity: complexCount))
        }
        // FFTW_ESTIMATE: planning never times alternatives, so the same plan (and the same
        // bits) comes out on every run.
        forward = fftwf_plan_dft_r2c_2d(Int32(s), Int32(s), real[0], spectra[0], UInt32(FFTW_ESTIMATE | FFTW_DESTROY_INPUT))
        backward = fftwf_plan_dft_c2r_2d(Int32(s), Int32(s), spectra[0], real[0], UInt32(FFTW_ESTIMATE | FFTW_DESTROY_INPUT))
    }

    /// openTSNE's table of box counts FFTW handles fast (2^a 3^b 5^c 7^d 11^e 13^f, e + f ≤ 1).
    static let boxCounts: [Int] = [
        20, 21, 22, 24, 25, 26, 27, 28, 30, 32, 33, 35, 36, 39, 40, 42, 44, 45, 48, 49, 50,
        52, 54, 55, 56, 60, 63, 64, 65, 66, 70, 72, 75, 77, 78, 80, 81, 84, 88, 90, 91, 96,
        98, 99, 100, 104, 105, 108, 110, 112, 117, 120, 125, 126, 128, 130, 132, 135, 140,
        144, 147, 150, 154, 156, 160, 162, 165, 168, 175, 176, 180, 182, 189, 192, 195, 196,
        198, 200, 208, 210, 216, 220, 224, 225, 231, 234, 240, 243, 245, 250, 252, 256, 260,
        264, 270, 273, 275, 280, 288, 294, 297, 300, 308, 312, 315, 320, 324, 325, 330, 336,
        343, 350, 351, 352, 360, 364, 375, 378, 384, 385, 390, 392, 396, 400, 405, 416, 420,
        432, 440, 441, 448, 450, 455, 462, 468, 480, 486, 490, 495, 500, 504, 512, 520, 525,
        528, 539, 540, 546, 550, 560, 567, 576, 585, 588, 594, 600, 616, 624, 625, 630, 637,
        640, 648, 650, 660, 672, 675, 686, 693, 700, 702, 704, 720, 728, 729, 735, 750, 756,
        768, 770, 780, 784, 792, 800, 810, 819, 825, 832, 840, 864, 875, 880, 882, 891, 896,
        900, 910, 924, 936, 945, 960, 972, 975, 980, 990, 1000,
    ]

    /// Boxes per axis for an embedding of extent `extent`.
    func boxes(extent: Double) -> Int {
        let b = max(Double(minBoxes), extent / boxWidth)
        guard b < 1000 else { return 1000 }
        return TSNEInterpolation.boxCounts.first { Double($0) >= b.rounded(.towardZero) } ?? 1000
    }

    /// Adds the repulsive forces -Σⱼ qᵢⱼ² (yᵢ - yⱼ) / Z to `grad` (N × 2); returns Z.
    func repulsiveForces(_ y: [Double], into grad: inout [Double]) -> Double {
        let n = y.count / 2
        var lo = Double.infinity, hi = -Double.infinity
        for v in y { lo = min(lo, v); hi = max(hi, v) }
        let b = boxes(extent: hi - lo)
        let m = nodesPerBox
        let g = m * b
        let width = (hi - lo) / Double(b)
        prepare(2 * g)

        // Each point's box and Lagrange weights on its box's nodes (m per axis).
        var box = [Int32](repeating: 0, count: 2 * n)
        var weights = [Double](repeating: 0, count: 2 * n * m)
        let h = 1 / Double(m)
        let nodes = (0..<m).map { h / 2 + Double($0) * h }
        var denominators = [Double](repeating: 1, count: m)
        for a in 0..<m { for c in 0..<m where c != a { denominators[a] *= nodes[a] - nodes[c] } }
        y.withUnsafeBufferPointer { yp in
            box.withUnsafeMutableBufferPointer { bp in
                weights.withUnsafeMutableBufferPointer { wp in
                    let yb = yp.baseAddress!, bb = bp.baseAddress!, wb = wp.baseAddress!
                    forEachChunk(n, chunk: 1024) { rows in
                        for i in rows {
                            for axis in 0..<2 {
                                let v = yb[2 * i + axis]
                                var k = Int((v - lo) / width)
                                if k >= b { k = b - 1 }
                                bb[2 * i + axis] = Int32(k)
                                let t = (v - (Double(k) * width + lo)) / width
                                for a in 0..<m {
                                    var l = 1.0
                                    for c in 0..<m where c != a { l *= t - nodes[c] }
                                    wb[(2 * i + axis) * m + a] = l / denominators[a]
                                }
                            }
                        }
                    }
                }
            }
        }

        // Points ordered by x box (stable), so ranges of x boxes own disjoint grid rows.
        var perBox = [Int](repeating: 0, count: b + 1)
        for i in 0..<n { perBox[Int(box[2 * i]) + 1] += 1 }
        for k in 0..<b { perBox[k + 1] += perBox[k] }
        var order = [Int32](repeating: 0, count: n)
        var next = perBox
        for i in 0..<n { let k = Int(box[2 * i]); order[next[k]] = Int32(i); next[k] += 1 }

        // (1) Spread v = (1, y₀, y₁, |y|²) onto the nodes: term d's G × G grid in real[1 + d]
        // (node (gx, gy) at [gx · 2G + gy], the rest of the 2G × 2G buffer zero).
        let s = 2 * g
        for d in 0..<4 { real[1 + d].initialize(repeating: 0, count: s * s) }
        let terms = real
        y.withUnsafeBufferPointer { yp in
            box.withUnsafeBufferPointer { bp in
                weights.withUnsafeBufferPointer { wp in
                    order.withUnsafeBufferPointer { op in
                        perBox.withUnsafeBufferPointer { pp in
                            let yb = yp.baseAddress!, bb = bp.baseAddress!, wb = wp.baseAddress!, ob = op.baseAddress!, pb = pp.baseAddress!
                            forEachChunk(b, chunk: 4) { boxes in
                                for e in pb[boxes.lowerBound]..<pb[boxes.upperBound] {
                                    let i = Int(ob[e])
                                    let y0 = yb[2 * i], y1 = yb[2 * i + 1]
                                    let v = (1.0, y0, y1, y0 * y0 + y1 * y1)
                                    let gx0 = Int(bb[2 * i]) * m, gy0 = Int(bb[2 * i + 1]) * m
                                    for a in 0..<m {
                                        let wx = wb[(2 * i) * m + a]
                                        for c in 0..<m {
                                            let w = wx * wb[(2 * i + 1) * m + c]
                                            let idx = (gx0 + a) * s + gy0 + c
                                            terms[1][idx] += Float(w * v.0)
                                            terms[2][idx] += Float(w * v.1)
                                            terms[3][idx] += Float(w * v.2)
                                            terms[4][idx] += Float(w * v.3)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }

        // (2) The kernel at node offsets, laid out for a circular convolution: K(δx, δy) at
        // [(G ± δx) · 2G + (G ± δy)], δ = 0..<G node spacings.
        let spacing = h * width
        let kernel = real[0]
        kernel.initialize(repeating: 0, count: s * s)
        for i in 0..<g {
            for j in 0..<g {
                let dx = Double(i) * spacing, dy = Double(j) * spacing
                let q = 1 / (1 + dx * dx + dy * dy)
                let v = Float(q * q)
                kernel[(g + i) * s + g + j] = v
                kernel[(g - i) * s + g + j] = v
                kernel[(g + i) * s + g - j] = v
                kernel[(g - i) * s + g - j] = v
            }
        }
        let complexCount = s * (s / 2 + 1)
        let fwd = forward!, bwd = backward!
        let spec = spectra
        fftwf_execute_dft_r2c(fwd, kernel, spec[0])
        parallelFor(4) { d in
            fftwf_execute_dft_r2c(fwd, terms[1 + d], spec[1 + d])
            let kf = spec[0], tf = spec[1 + d]
            for e in 0..<complexCount {
                let a = kf[e], c = tf[e]
                tf[e] = (a.0 * c.0 - a.1 * c.1, a.0 * c.1 + a.1 * c.0)
            }
            fftwf_execute_dft_c2r(bwd, tf, terms[1 + d])
        }

        // (3) Back to the points: φ_d(yᵢ) = Σ weights · (convolved grid at [(G + gx) · 2G + G + gy]) / (2G)².
        let norm = 1 / Double(s * s)
        var phi = [Double](repeating: 0, count: 4 * n)
        do {
            box.withUnsafeBufferPointer { bp in
                weights.withUnsafeBufferPointer { wp in
                    phi.withUnsafeMutableBufferPointer { fp in
                        let bb = bp.baseAddress!, wb = wp.baseAddress!, fb = fp.baseAddress!
                        forEachChunk(n, chunk: 1024) { rows in
                            for i in rows {
                                let gx0 = Int(bb[2 * i]) * m, gy0 = Int(bb[2 * i + 1]) * m
                                var p0 = 0.0, p1 = 0.0, p2 = 0.0, p3 = 0.0
                                for a in 0..<m {
                                    let wx = wb[(2 * i) * m + a]
                                    for c in 0..<m {
                                        let w = wx * wb[(2 * i + 1) * m + c]
                                        let idx = (g + gx0 + a) * s + g + gy0 + c
                                        p0 += w * Double(terms[1][idx])
                                        p1 += w * Double(terms[2][idx])
                                        p2 += w * Double(terms[3][idx])
                                        p3 += w * Double(terms[4][idx])
                                    }
                                }
                                fb[4 * i] = p0 * norm
                                fb[4 * i + 1] = p1 * norm
                                fb[4 * i + 2] = p2 * norm
                                fb[4 * i + 3] = p3 * norm
                            }
                        }
                    }
                }
            }
        }

        var z = 0.0
        for i in 0..<n {
            let y0 = y[2 * i], y1 = y[2 * i + 1]
            z += (1 + y0 * y0 + y1 * y1) * phi[4 * i] - 2 * (y0 * phi[4 * i + 1] + y1 * phi[4 * i + 2]) + phi[4 * i + 3]
        }
        z -= Double(n)
        let scale = 1 / (z + tsneEpsilon)
        for i in 0..<n {
            grad[2 * i] -= (y[2 * i] * phi[4 * i] - phi[4 * i + 1]) * scale
            grad[2 * i + 1] -= (y[2 * i + 1] * phi[4 * i] - phi[4 * i + 2]) * scale
        }
        return z
    }
}
