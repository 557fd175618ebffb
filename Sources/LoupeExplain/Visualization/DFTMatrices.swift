import Foundation
import LoupeTensor

/// Row-major single-precision products through LoupeTensor's `sgemm`:
/// c[m×n] = alpha · op(a) · op(b) + beta · c.
@inline(__always)
func gemm(_ a: [Float], _ b: [Float], into c: inout [Float], m: Int, n: Int, k: Int,
          transA: Bool = false, transB: Bool = false, alpha: Float = 1, beta: Float = 0) {
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            c.withUnsafeMutableBufferPointer { pc in
                sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                      a: pa.baseAddress!, lda: transA ? m : k, b: pb.baseAddress!, ldb: transB ? k : n,
                      beta: beta, c: pc.baseAddress!, ldc: n)
            }
        }
    }
}

/// The real matrices of an orthonormal ("ortho") discrete Fourier transform of length n,
/// for the separable 2-D transforms of `FourierImage`.
struct DFTMatrices: Sendable {
    /// cos(2π jk/n)/√n and sin(2π jk/n)/√n, both n×n and symmetric: the full complex DFT.
    let cos: [Float], sin: [Float]
    /// The inverse real transform (c2r) from n/2 + 1 frequencies: rows l, columns m,
    /// w_l·cos(2π lm/n)/√n and w_l·sin(2π lm/n)/√n with w_l = 1 for l = 0 and (n even)
    /// l = n/2, 2 otherwise: the Hermitian half counted twice. [n/2 + 1, n].
    let c2rCos: [Float], c2rSin: [Float]
    /// The forward real transform (r2c): cos(2π lm/n)/√n and sin(2π lm/n)/√n as [n, n/2 + 1].
    let r2cCos: [Float], r2cSin: [Float]

    init(_ n: Int) {
        let half = n / 2 + 1
        let norm = 1 / Double(n).squareRoot()
        func angle(_ j: Int, _ k: Int) -> Double { 2 * Double.pi * Double((j * k) % n) / Double(n) }
        var c = [Float](repeating: 0, count: n * n), s = c
        for j in 0..<n { for k in 0..<n { c[j * n + k] = Float(Foundation.cos(angle(j, k)) * norm); s[j * n + k] = Float(Foundation.sin(angle(j, k)) * norm) } }
        var ic = [Float](repeating: 0, count: half * n), isn = ic
        var fc = [Float](repeating: 0, count: n * half), fs = fc
        for l in 0..<half {
            let w: Double = l == 0 || (n % 2 == 0 && l == n / 2) ? 1 : 2
            for m in 0..<n {
                ic[l * n + m] = Float(w * Foundation.cos(angle(l, m)) * norm)
                isn[l * n + m] = Float(w * Foundation.sin(angle(l, m)) * norm)
                fc[m * half + l] = Float(Foundation.cos(angle(l, m)) * norm)
                fs[m * half + l] = Float(Foundation.sin(angle(l, m)) * norm)
            }
        }
        cos = c; sin = s; c2rCos = ic; c2rSin = isn; r2cCos = fc; r2cSin = fs
    }
}
