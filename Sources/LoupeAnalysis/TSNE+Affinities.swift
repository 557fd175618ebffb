import Foundation
import LoupeTensor

/// t-SNE's input similarities P, sparse, as openTSNE's `PerplexityBasedNN` computes them
/// (van der Maaten, "Accelerating t-SNE using tree-based algorithms", JMLR 15, 2014, §4.1):
///
/// - the exact k nearest neighbours of each point (Euclidean, the point itself excluded);
/// - per point i, the Gaussian precision τᵢ for which p(j|i) ∝ exp(-τᵢ d²ᵢⱼ / 2) over its k
///   neighbours has perplexity exp(H) equal to the target (openTSNE `_tsne.pyx`
///   `compute_gaussian_perplexity`: bisection from τ = 1, doubling or halving until bracketed,
///   tolerance 1e-8 on H in nats, at most 200 steps);
/// - P = (P + Pᵀ) / 2, then divided by its sum, so that Σᵢⱼ pᵢⱼ = 1.
///
/// Stored as CSR: row i's columns `columns[rowStart[i]..<rowStart[i + 1]]` (increasing) and
/// values `values[...]` (float64).
struct TSNEAffinities {
    let n: Int
    var rowStart: [Int]
    var columns: [Int32]
    var values: [Double]

    init(_ x: FeatureMatrix, neighbours k: Int, perplexity: Double) throws {
        let (idx, dist) = try exactNeighbours(x, k: k)
        let cond = TSNEAffinities.conditionalProbabilities(distances: dist, n: x.rows, k: k, perplexity: perplexity)
        self.init(n: x.rows, k: k, neighbours: idx, conditional: cond)
    }

    /// A P given as CSR (tests compare against openTSNE's).
    init(n: Int, rowStart: [Int], columns: [Int32], values: [Double]) {
        self.n = n
        self.rowStart = rowStart
        self.columns = columns
        self.values = values
    }

    /// Symmetrises and normalises the conditional p(j|i) (N × k, row i over `neighbours`).
    init(n: Int, k: Int, neighbours: [Int32], conditional: [Double]) {
        self.n = n
        // Entries of P and Pᵀ, bucketed by row.
        var count = [Int](repeating: 0, count: n + 1)
        for i in 0..<n {
            count[i] += k
            for a in 0..<k { count[Int(neighbours[i * k + a])] += 1 }
        }
        var start = [Int](repeating: 0, count: n + 1)
        for i in 0..<n { start[i + 1] = start[i] + count[i] }
        var fill = start
        var cols = [Int32](repeating: 0, count: start[n])
        var vals = [Double](repeating: 0, count: start[n])
        for i in 0..<n {
            for a in 0..<k {
                let j = Int(neighbours[i * k + a]), p = conditional[i * k + a]
                cols[fill[i]] = Int32(j); vals[fill[i]] = p; fill[i] += 1
                cols[fill[j]] = Int32(i); vals[fill[j]] = p; fill[j] += 1
            }
        }
        // Sort each row by column, merge duplicates (j in i's list and i in j's).
        var outStart = [Int](repeating: 0, count: n + 1)
        var outCols: [Int32] = []
        var outVals: [Double] = []
        outCols.reserveCapacity(start[n])
        outVals.reserveCapacity(start[n])
        var order: [Int] = []
        for i in 0..<n {
            order = Array(start[i]..<start[i + 1])
            order.sort { cols[$0] < cols[$1] || (cols[$0] == cols[$1] && $0 < $1) }
            var a = 0
            while a < order.count {
                let c = cols[order[a]]
                var s = vals[order[a]]
                var b = a + 1
                while b < order.count && cols[order[b]] == c { s += vals[order[b]]; b += 1 }
                outCols.append(c)
                outVals.append(s / 2)
                a = b
            }
            outStart[i + 1] = outCols.count
        }
        var total = 0.0
        for v in outVals { total += v }
        for e in 0..<outVals.count { outVals[e] /= total }
        rowStart = outStart
        columns = outCols
        values = outVals
    }

    /// p(j|i) for each point's k neighbours at the given Euclidean distances (N × k), as
    /// openTSNE's `compute_gaussian_perplexity`; rows run in parallel, each on its own.
    static func conditionalProbabilities(distances: [Double], n: Int, k: Int, perplexity: Double) -> [Double] {
        var p = [Double](repeating: 0, count: n * k)
        let target = Foundation.log(perplexity)
        distances.withUnsafeBufferPointer { dp in
            p.withUnsafeMutableBufferPointer { pp in
                let db = dp.baseAddress!, pb = pp.baseAddress!
                forEachChunk(n, chunk: 256) { rows in
                    var d2 = [Double](repeating: 0, count: k)
                    for i in rows {
                        for a in 0..<k { d2[a] = db[i * k + a] * db[i * k + a] }
                        let row = pb + i * k
                        var tau = 1.0, lo = -Double.infinity, hi = Double.infinity
                        for _ in 0..<200 {
                            let sq = tau.squareRoot()
                            var sum = 0.0
                            for a in 0..<k { row[a] = sq * Foundation.exp(-d2[a] * tau * 0.5); sum += row[a] }
                            sum += tsneEpsilon
                            var sumPD = 0.0
                            for a in 0..<k { sumPD += row[a] / sum * d2[a] }
                            let h = tau * 0.5 * sumPD + Foundation.log(sum) - Foundation.log(tau) * 0.5
                            let diff = h - target
                            if abs(diff) <= 1e-8 { break }
                            if diff > 0 {
                                lo = tau
                                tau = hi.isInfinite ? tau * 2 : (tau + hi) * 0.5
                            } else {
                                hi = tau
                                tau = lo.isInfinite ? tau / 2 : (tau + lo) * 0.5
                            }
                        }
                        var sum = 0.0
                        for a in 0..<k { sum += row[a] }
                        for a in 0..<k { row[a] /= sum }
                    }
                }
            }
        }
        return p
    }

    /// Adds the attractive forces Σⱼ e·pᵢⱼ qᵢⱼ (yᵢ - yⱼ), qᵢⱼ = 1 / (1 + |yᵢ - yⱼ|²) unnormalised,
    /// to `grad` (N × 2) (openTSNE `estimate_positive_gradient_nn`). With `evaluateKL`, also
    /// returns Σ e·pᵢⱼ and Σ e·pᵢⱼ log(e·pᵢⱼ / (qᵢⱼ + ε) + ε), summed over rows in order.
    func attractiveForces(_ y: [Double], exaggeration e: Double, into grad: inout [Double],
                          evaluateKL: Bool) -> (sumP: Double, kl: Double) {
        var perRowP = [Double](repeating: 0, count: evaluateKL ? n : 0)
        var perRowKL = [Double](repeating: 0, count: evaluateKL ? n : 0)
        y.withUnsafeBufferPointer { yp in
            grad.withUnsafeMutableBufferPointer { gp in
                rowStart.withUnsafeBufferPointer { sp in
                    columns.withUnsafeBufferPointer { cp in
                        values.withUnsafeBufferPointer { vp in
                            perRowP.withUnsafeMutableBufferPointer { rp in
                                perRowKL.withUnsafeMutableBufferPointer { kp in
                                    let yb = yp.baseAddress!, gb = gp.baseAddress!
                                    let sb = sp.baseAddress!, cb = cp.baseAddress!, vb = vp.baseAddress!
                                    forEachChunk(n, chunk: 512) { rows in
                                        for i in rows {
                                            let yi0 = yb[2 * i], yi1 = yb[2 * i + 1]
                                            var g0 = 0.0, g1 = 0.0, sp = 0.0, kl = 0.0
                                            let end = sb[i + 1]
                                            if evaluateKL {
                                                for e2 in sb[i]..<end {
                                                    let j = Int(cb[e2])
                                                    let p = vb[e2] * e
                                                    let d0 = yi0 - yb[2 * j], d1 = yi1 - yb[2 * j + 1]
                                                    let q = 1 / (1 + d0 * d0 + d1 * d1)
                                                    g0 += q * p * d0
                                                    g1 += q * p * d1
                                                    sp += p
                                                    kl += p * Foundation.log(p / (q + tsneEpsilon) + tsneEpsilon)
                                                }
                                            } else {
                                                // The hot loop: P's row times q, exaggeration applied once.
                                                var e2 = sb[i]
                                                while e2 < end {
                                                    let j = Int(cb[e2])
                                                    let d0 = yi0 - yb[2 * j], d1 = yi1 - yb[2 * j + 1]
                                                    let pq = vb[e2] / (1 + d0 * d0 + d1 * d1)
                                                    g0 += pq * d0
                                                    g1 += pq * d1
                                                    e2 += 1
                                                }
                                                g0 *= e
                                                g1 *= e
                                            }
                                            gb[2 * i] += g0
                                            gb[2 * i + 1] += g1
                                            if evaluateKL { rp[i] = sp; kp[i] = kl }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        var sumP = 0.0, kl = 0.0
        for i in 0..<perRowP.count { sumP += perRowP[i]; kl += perRowKL[i] }
        return (sumP, kl)
    }
}

/// The exact k nearest neighbours of every row of `x` among the others (Euclidean), for the
/// affinities: (indices N × k, distances N × k float64), nearest first, ties by index: the
/// search `loupe neighbors` runs (`NearestNeighbors`, exact by its error bound).
func exactNeighbours(_ x: FeatureMatrix, k: Int) throws -> (indices: [Int32], distances: [Double]) {
    let found = try NearestNeighbors(features: x, metric: .l2).search(queries: x, k: k, excluding: (0..<x.rows).map { $0 })
    var indices = [Int32](), distances = [Double]()
    indices.reserveCapacity(x.rows * k)
    distances.reserveCapacity(x.rows * k)
    for list in found {
        for nb in list {
            indices.append(Int32(nb.index))
            distances.append(nb.distance)
        }
    }
    return (indices, distances)
}
