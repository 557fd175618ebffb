import Foundation
import LoupeTensor

/// Principal component analysis of N feature vectors (rows of a `FeatureMatrix`, N × D),
/// for t-SNE: the centred data projected on its top `components` principal axes (N × c,
/// float32, row-major), and t-SNE's PCA initialisation from the first two.
///
/// The axes are the top eigenvectors of the covariance C = XcᵀXc / (N - 1) (D × D, float64),
/// by LAPACK's `dsyevd` (scikit-learn's PCA, which openTSNE's examples use, solves the same
/// eigenproblem, `covariance_eigh`, when N ≫ D); cyclic Jacobi rotations are the fallback and
/// the tests' reference. Each axis's sign makes its largest-magnitude entry positive.
/// Deterministic (the seed only draws the initial jitter): the GEMMs run in fixed row blocks, so the thread count does not change a bit.
struct PCA {
    /// N × c, the centred rows on the axes (c = D when no reduction happened: then the centred data).
    let projected: FeatureMatrix
    /// Variance along each of the c axes, decreasing (float64).
    let variances: [Double]

    /// `reduceOnlyIfLarger`: when D ≤ components, keep the centred data as it is.
    init(_ x: FeatureMatrix, components: Int, reduceOnlyIfLarger: Bool) {
        let n = x.rows, d = x.columns
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += Double(x.values[i * d + j]) } }
        for j in 0..<d { mean[j] /= Double(n) }
        var xc = x.values
        for i in 0..<n { for j in 0..<d { xc[i * d + j] = Float(Double(xc[i * d + j]) - mean[j]) } }
        let cov = PCA.covariance(xc, n: n, d: d)
        let c = min(components, d)
        if reduceOnlyIfLarger && d <= components {
            // Keep the data; the axes are still needed for the initialisation.
            let (vectors, values) = PCA.topEigenvectors(cov, d: d, count: min(2, d))
            projected = FeatureMatrix(rows: n, columns: d, values: xc)
            variances = values
            initAxes = vectors
            initFromProjection = false
            return
        }
        let (vectors, values) = PCA.topEigenvectors(cov, d: d, count: c)
        // Y = Xc · V: N × c.
        var v32 = [Float](repeating: 0, count: d * c)
        for j in 0..<d { for a in 0..<c { v32[j * c + a] = Float(vectors[a * d + j]) } }
        var y = [Float](repeating: 0, count: n * c)
        xc.withUnsafeBufferPointer { xp in
            v32.withUnsafeBufferPointer { vp in
                y.withUnsafeMutableBufferPointer { yp in
                    let xb = xp.baseAddress!, vb = vp.baseAddress!, yb = yp.baseAddress!
                    forEachChunk(n, chunk: 512) { r in
                        sgemm(m: r.count, n: c, k: d, a: xb + r.lowerBound * d, lda: d, b: vb, ldb: c,
                              c: yb + r.lowerBound * c, ldc: c)
                    }
                }
            }
        }
        projected = FeatureMatrix(rows: n, columns: c, values: y)
        variances = values
        initAxes = []
        initFromProjection = true
    }

    /// When the data were kept as they are: the first two axes (2 × D) for the initialisation.
    private let initAxes: [Double]
    /// Whether `projected` is already on the principal axes.
    private let initFromProjection: Bool

    /// openTSNE's `initialization.pca`: the first two principal components, divided by the
    /// standard deviation of the first and multiplied by 1e-4 (`rescale`), plus Gaussian jitter
    /// of standard deviation 1 % of the first column's (`jitter`, here from SplitMix64).
    /// N × 2, float64.
    func initialEmbedding(seed: UInt64) -> [Double] {
        let n = projected.rows, cols = projected.columns
        var e = [Double](repeating: 0, count: 2 * n)
        for i in 0..<n {
            for a in 0..<2 {
                if initFromProjection {
                    e[2 * i + a] = a < cols ? Double(projected.values[i * cols + a]) : 0
                } else if a < initAxes.count / cols {
                    var s = 0.0
                    for j in 0..<cols { s += Double(projected.values[i * cols + j]) * initAxes[a * cols + j] }
                    e[2 * i + a] = s
                }
            }
        }
        let std = PCA.standardDeviation(e, column: 0)
        if std > 0 {
            for i in 0..<e.count { e[i] = e[i] / std * 1e-4 }
        }
        // Identical feature vectors: no spread to rescale, the jitter alone separates them.
        let jitter = std > 0 ? PCA.standardDeviation(e, column: 0) * 0.01 : 1e-6
        var rng = SplitMix64(seed: seed ^ 0x7453_4E45_6A69_7474)
        for i in 0..<e.count { e[i] += jitter * PCA.gaussian(&rng) }
        return e
    }

    static func standardDeviation(_ e: [Double], column: Int) -> Double {
        let n = e.count / 2
        var m = 0.0
        for i in 0..<n { m += e[2 * i + column] }
        m /= Double(n)
        var v = 0.0
        for i in 0..<n { v += (e[2 * i + column] - m) * (e[2 * i + column] - m) }
        return (v / Double(n)).squareRoot()
    }

    /// A standard normal draw (Box-Muller).
    static func gaussian(_ rng: inout SplitMix64) -> Double {
        let u1 = (Double(rng.next() >> 11) + 1) / 9_007_199_254_740_993.0
        let u2 = Double(rng.next() >> 11) / 9_007_199_254_740_992.0
        return (-2 * Foundation.log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// C = XcᵀXc / (N - 1), D × D float64, from float32 GEMMs over fixed blocks of 1,024 rows
    /// (summed in block order).
    static func covariance(_ xc: [Float], n: Int, d: Int) -> [Double] {
        let block = 1024
        let blocks = (n + block - 1) / block
        var partial = [Float](repeating: 0, count: blocks * d * d)
        xc.withUnsafeBufferPointer { xp in
            partial.withUnsafeMutableBufferPointer { pp in
                let xb = xp.baseAddress!, pb = pp.baseAddress!
                parallelFor(blocks) { b in
                    let r0 = b * block, r1 = min(n, r0 + block)
                    sgemm(transA: true, m: d, n: d, k: r1 - r0, a: xb + r0 * d, lda: d, b: xb + r0 * d, ldb: d,
                          c: pb + b * d * d, ldc: d)
                }
            }
        }
        var cov = [Double](repeating: 0, count: d * d)
        for b in 0..<blocks { for i in 0..<(d * d) { cov[i] += Double(partial[b * d * d + i]) } }
        let scale = 1 / Double(max(n - 1, 1))
        for i in 0..<(d * d) { cov[i] *= scale }
        return cov
    }

    /// The `count` eigenvectors of the symmetric D × D matrix `a` with the largest eigenvalues:
    /// (vectors, count × D row-major; eigenvalues, decreasing).
    static func topEigenvectors(_ a: [Double], d: Int, count: Int) -> ([Double], [Double]) {
        if let (vals, vecs) = symmetricEigen(a, n: d) {
            return pick(vals, vecs, n: d, count: count, rows: d, vectorsAreRows: true)
        }
        // LAPACK did not converge (not seen in practice): Jacobi rotations.
        let (vals, vecs) = jacobiEigen(a, n: d)
        return pick(vals, vecs, n: d, count: count, rows: d)
    }

    /// Sorts eigenpairs by decreasing value, keeps `count`, fixes signs.
    static func pick(_ vals: [Double], _ vecs: [Double], n: Int, count: Int, rows d: Int,
                     vectorsAreRows: Bool = false) -> ([Double], [Double]) {
        let order = (0..<n).sorted { vals[$0] > vals[$1] || (vals[$0] == vals[$1] && $0 < $1) }
        var out = [Double](repeating: 0, count: count * d)
        var values: [Double] = []
        for (a, c) in order.prefix(count).enumerated() {
            var v = (0..<d).map { vectorsAreRows ? vecs[c * d + $0] : vecs[$0 * n + c] }
            var big = 0
            for k in 0..<d where abs(v[k]) > abs(v[big]) { big = k }
            if v[big] < 0 { v = v.map { -$0 } }
            for k in 0..<d { out[a * d + k] = v[k] }
            values.append(vals[c])
        }
        return (out, values)
    }

    /// Eigen-decomposition of the symmetric n × n `a` by cyclic Jacobi rotations (Golub and
    /// Van Loan, Matrix Computations, §8.5): (eigenvalues, eigenvectors as the columns of an
    /// n × n row-major matrix).
    static func jacobiEigen(_ input: [Double], n: Int) -> ([Double], [Double]) {
        var a = input
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        for _ in 0..<100 {
            var off = 0.0, total = 0.0
            for i in 0..<n { for j in 0..<n { total += a[i * n + j] * a[i * n + j]; if i != j { off += a[i * n + j] * a[i * n + j] } } }
            if off <= 1e-30 * total || off == 0 { break }
            for p in 0..<n {
                for q in (p + 1)..<n where a[p * n + q] != 0 {
                    let apq = a[p * n + q]
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * apq)
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {
                        let akp = a[k * n + p], akq = a[k * n + q]
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let apk = a[p * n + k], aqk = a[q * n + k]
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
                    }
                    for k in 0..<n {
                        let vkp = v[k * n + p], vkq = v[k * n + q]
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        return ((0..<n).map { a[$0 * n + $0] }, v)
    }
}
