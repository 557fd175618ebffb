import LoupeTensor

/// The noisy linear imputation of ROAD (Rong, Leemann, Borisov, Kasneci and Kasneci, "A
/// Consistent and Efficient Evaluation Strategy for Attribution Methods", ICML 2022), as
/// `NoisyLinearImputer` in pytorch-grad-cam's `metrics/road.py` (from the authors' code).
///
/// Each removed pixel p of a C×H×W image takes the weighted mean of its 8 neighbours inside
/// the image, weight 1/6 for the 4 axial and 1/12 for the 4 diagonal ones: s_p x_p − Σ_q w_pq x_q
/// = Σ_{known q} w_pq v_q, with s_p the sum of the weights of p's in-image neighbours and the
/// left sum over removed neighbours. The reference solves this sparse system with scipy's
/// `spsolve`; its matrix is symmetric and, when every group of removed pixels touches a kept
/// one, positive definite, so Loupe solves it per channel by conjugate gradients in float64
/// to a residual of 1e-12 of the right-hand side (the same solution to float64 rounding).
/// Then Gaussian noise of standard deviation `noise` (absolute, in the model's input space) is
/// added to each imputed value, drawn as `NoiseTunnel.noise` from the given generator in the
/// order channel, then raster index. A group of removed pixels with no kept neighbour (all
/// pixels removed) makes the system singular: spsolve then fails, and here it stays at 0.
public enum NoisyLinearImputer {
    /// (row offset, column offset, weight), as road.py's `neighbors_weights`.
    public static let neighbours: [(Int, Int, Double)] = [
        (1, 1, 1.0 / 12), (0, 1, 1.0 / 6), (-1, 1, 1.0 / 12), (1, -1, 1.0 / 12),
        (0, -1, 1.0 / 6), (-1, -1, 1.0 / 12), (1, 0, 1.0 / 6), (-1, 0, 1.0 / 6),
    ]

    /// `image` (C×H×W floats) with the pixels where `keep` is false imputed.
    public static func impute(_ image: [Float], channels c: Int, height h: Int, width w: Int, keep: [Bool],
                              noise: Double, rng: inout SplitMix64) -> [Float] {
        let hw = h * w
        precondition(image.count == c * hw && keep.count == hw)
        let unknown = (0..<hw).filter { !keep[$0] }
        let n = unknown.count
        guard n > 0 else { return image }
        var slot = [Int](repeating: -1, count: hw)
        for (i, p) in unknown.enumerated() { slot[p] = i }
        // The system over the removed pixels as a sparse matrix M (rows in `unknown` order):
        // M_ii = s_i, M_ij = −w_ij for removed neighbours j; `known` lists each row's kept
        // neighbours (pixel, weight) for the right-hand sides.
        var diagonal = [Double](repeating: 0, count: n)
        var rowStart = [Int](repeating: 0, count: n + 1), column: [Int] = [], weight: [Double] = []
        var knownStart = [Int](repeating: 0, count: n + 1), knownPixel: [Int] = [], knownWeight: [Double] = []
        column.reserveCapacity(8 * n); weight.reserveCapacity(8 * n)
        for (i, p) in unknown.enumerated() {
            let (y, x) = (p / w, p % w)
            for (dy, dx, wt) in neighbours {
                let (yy, xx) = (y + dy, x + dx)
                guard yy >= 0 && yy < h && xx >= 0 && xx < w else { continue }
                diagonal[i] += wt
                let q = yy * w + xx
                if slot[q] >= 0 {
                    column.append(slot[q]); weight.append(wt)
                } else {
                    knownPixel.append(q); knownWeight.append(wt)
                }
            }
            rowStart[i + 1] = column.count
            knownStart[i + 1] = knownPixel.count
        }
        func apply(_ v: UnsafeBufferPointer<Double>, _ out: UnsafeMutableBufferPointer<Double>) {
            column.withUnsafeBufferPointer { col in
                weight.withUnsafeBufferPointer { wt in
                    for i in 0..<n {
                        var s = diagonal[i] * v[i]
                        for k in rowStart[i]..<rowStart[i + 1] { s -= wt[k] * v[col[k]] }
                        out[i] = s
                    }
                }
            }
        }
        var result = image
        for k in 0..<c {
            let plane = k * hw
            var b = [Double](repeating: 0, count: n)
            for i in 0..<n {
                for j in knownStart[i]..<knownStart[i + 1] { b[i] += knownWeight[j] * Double(image[plane + knownPixel[j]]) }
            }
            let xs = conjugateGradient(b, apply: apply)
            for (i, p) in unknown.enumerated() { result[plane + p] = Float(xs[i]) }
        }
        if noise > 0 {
            let z = NoiseTunnel.noise(count: c * n, sigma: noise, rng: &rng)
            for k in 0..<c {
                for (j, p) in unknown.enumerated() { result[k * hw + p] += z[k * n + j] }
            }
        }
        return result
    }

    /// Solves M x = b by conjugate gradients from x = 0, to ‖r‖ ≤ 1e-12 ‖b‖.
    static func conjugateGradient(_ b: [Double], apply: (UnsafeBufferPointer<Double>, UnsafeMutableBufferPointer<Double>) -> Void) -> [Double] {
        let n = b.count
        var x = [Double](repeating: 0, count: n)
        var r = b, d = b
        var q = [Double](repeating: 0, count: n)
        func dot(_ u: [Double], _ v: [Double]) -> Double {
            var s = 0.0
            for i in 0..<n { s += u[i] * v[i] }
            return s
        }
        var rr = dot(r, r)
        let stop = 1e-24 * rr
        var iteration = 0
        while rr > stop && rr > 0 && iteration < 10 * n + 100 {
            d.withUnsafeBufferPointer { dv in q.withUnsafeMutableBufferPointer { qv in apply(dv, qv) } }
            let dq = dot(d, q)
            guard dq > 0 else { break }
            let alpha = rr / dq
            for i in 0..<n {
                x[i] += alpha * d[i]
                r[i] -= alpha * q[i]
            }
            let next = dot(r, r)
            let beta = next / rr
            rr = next
            for i in 0..<n { d[i] = r[i] + beta * d[i] }
            iteration += 1
        }
        return x
    }
}
