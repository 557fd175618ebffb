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
        guard !unknown.isEmpty else { return image }
        // s_p over in-image neighbours.
        var diagonal = [Double](repeating: 0, count: hw)
        for p in unknown {
            let (y, x) = (p / w, p % w)
            for (dy, dx, wt) in neighbours where y + dy >= 0 && y + dy < h && x + dx >= 0 && x + dx < w { diagonal[p] += wt }
        }
        // (M v)_p for p removed, v zero on kept pixels.
        func apply(_ v: [Double], into out: inout [Double]) {
            for p in unknown {
                let (y, x) = (p / w, p % w)
                var s = diagonal[p] * v[p]
                for (dy, dx, wt) in neighbours {
                    let (yy, xx) = (y + dy, x + dx)
                    if yy >= 0 && yy < h && xx >= 0 && xx < w { s -= wt * v[yy * w + xx] }
                }
                out[p] = s
            }
        }
        var result = image
        for k in 0..<c {
            let plane = k * hw
            var b = [Double](repeating: 0, count: hw)
            for p in unknown {
                let (y, x) = (p / w, p % w)
                for (dy, dx, wt) in neighbours {
                    let (yy, xx) = (y + dy, x + dx)
                    if yy >= 0 && yy < h && xx >= 0 && xx < w && keep[yy * w + xx] { b[p] += wt * Double(image[plane + yy * w + xx]) }
                }
            }
            let xs = conjugateGradient(b, unknown: unknown, count: hw, apply: apply)
            for p in unknown { result[plane + p] = Float(xs[p]) }
        }
        if noise > 0 {
            let n = NoiseTunnel.noise(count: c * unknown.count, sigma: noise, rng: &rng)
            for k in 0..<c {
                for (j, p) in unknown.enumerated() { result[k * hw + p] += n[k * unknown.count + j] }
            }
        }
        return result
    }

    /// Solves M x = b on the `unknown` entries (x is 0 elsewhere) by conjugate gradients.
    static func conjugateGradient(_ b: [Double], unknown: [Int], count: Int,
                                  apply: ([Double], inout [Double]) -> Void) -> [Double] {
        var x = [Double](repeating: 0, count: count)
        var r = b
        var d = b
        var q = [Double](repeating: 0, count: count)
        func dot(_ u: [Double], _ v: [Double]) -> Double { unknown.reduce(0) { $0 + u[$1] * v[$1] } }
        var rr = dot(r, r)
        let stop = 1e-24 * rr
        var iteration = 0
        while rr > stop && rr > 0 && iteration < 10 * unknown.count + 100 {
            apply(d, &q)
            let dq = dot(d, q)
            guard dq > 0 else { break }
            let alpha = rr / dq
            for p in unknown {
                x[p] += alpha * d[p]
                r[p] -= alpha * q[p]
            }
            let next = dot(r, r)
            let beta = next / rr
            rr = next
            for p in unknown { d[p] = r[p] + beta * d[p] }
            iteration += 1
        }
        return x
    }
}
