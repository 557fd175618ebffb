import Foundation
import LoupeTensor

/// How far apart two feature vectors are.
public enum DistanceMetric: String, Sendable, CaseIterable {
    /// The Euclidean distance `‖q − x‖` (not squared).
    case l2
    /// `1 − cos(q, x) = 1 − q·x / (‖q‖ ‖x‖)`, in [0, 2]; 1 when either vector is zero.
    case cosine
}

/// One neighbour of a query: the item's 0-based row and its distance to the query.
public struct Neighbor: Sendable, Equatable {
    public var index: Int
    public var distance: Double
    public init(index: Int, distance: Double) {
        self.index = index
        self.distance = distance
    }
}

/// Exact k nearest neighbours over a `FeatureMatrix` (docs/neighbors.md).
///
/// The distances that rank the items are computed directly in float64 from the float32
/// features, each sum in one fixed order (`directKey`, `sum8`); the k smallest win, ties going to the lower
/// item index. The result is therefore a function of the data alone, whatever the BLAS kernel or
/// thread count.
///
/// Finding them without computing all N direct distances per query: a blocked float32 GEMM
/// (`sgemmAnyOrder`, oneDNN's JIT kernels; queries block × items block, so at most `queryBlock × itemBlock` scores in memory per
/// thread, never N × N) gives each dot product `ŝ` with the error bound of any summation order
/// (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., Thm. 3.1 and eq. 3.5):
/// `|ŝ − q·x| ≤ γ_D Σ|q_i x_i| ≤ γ_D ‖q‖‖x‖`, `γ_D = D u / (1 − D u)`, `u = 2⁻²⁴`, plus `2⁻¹⁵⁰` per
/// product that underflows. From it each item gets an interval `[L, U]` certain to hold its float64
/// ranking key (the interval also covers the float64 rounding of the norms and of the key itself).
/// With `T` the k-th smallest `U` over the query's items, an item with `L > T` has at least k items
/// certainly closer, so it cannot be among the k nearest; every other item is a candidate and is
/// re-ranked by its direct float64 key. Queries are split into blocks run in parallel
/// (`parallelFor`); each block streams over the items, keeping per query a heap of the k
/// smallest `U` so far and the candidates with `L` at most that heap's top.
public struct NearestNeighbors: Sendable {
    public let features: FeatureMatrix
    public let metric: DistanceMetric
    /// Queries per block (at most; fewer so that every thread gets a block) and items per GEMM
    /// block: the scores buffer of one thread holds `queryBlock × itemBlock` floats.
    /// Internal so that tests can force many blocks.
    var queryBlock = 128
    var itemBlock = 2048
    /// Items per GEMM block when all queries fit one block: the items' norms are then
    /// computed block by block right after the GEMM has read them, while they are in cache.
    var fusedItemBlock = 256

    public init(features: FeatureMatrix, metric: DistanceMetric) {
        self.features = features
        self.metric = metric
    }

    /// Generates the screening GEMM's kernels now (oneDNN's JIT, about 30 ms once per process),
    /// so that a caller can do it on another thread while it reads the features.
    public static func prepareKernels() { prepareSgemmAnyOrder() }

    /// The k nearest items of each query row, nearest first (ties by lower index).
    /// `excluding[q]`, when not nil, is the item query q is (its own row), which is then not
    /// returned; pass `[]` to exclude nothing. `progress(done, total)` is called (from any thread,
    /// one call at a time) as query blocks finish.
    public func search(queries: FeatureMatrix, k: Int, excluding: [Int?] = [],
                       progress: ((Int, Int) -> Void)? = nil) throws -> [[Neighbor]] {
        let n = features.rows, d = features.columns, nq = queries.rows
        guard queries.columns == d else {
            throw LoupeError.shape("the queries have \(queries.columns) features each but the items have \(d)")
        }
        guard excluding.isEmpty || excluding.count == nq else {
            throw LoupeError(.invalidArgument, "\(excluding.count) exclusions for \(nq) queries")
        }
        // A NaN or infinite value makes its row's float64 sum of squares NaN or infinite (a
        // finite float32 squared is at most about 1.2e77).
        let qSquared = Self.squaredNorms(queries)
        if let i = qSquared.firstIndex(where: { !$0.isFinite }) {
            throw LoupeError(.invalidArgument, "query \(i) has a NaN or infinite feature")
        }
        guard k >= 1 else { throw LoupeError(.invalidArgument, "k must be at least 1, got \(k)") }
        for (q, e) in excluding.enumerated() {
            guard let e else { continue }
            guard e >= 0, e < n else {
                throw LoupeError(.invalidArgument, "query \(q) excludes item #\(e), but the set has \(n) items (#0 to #\(n - 1))")
            }
        }
        let mostExcluded = excluding.contains { $0 != nil } ? 1 : 0
        guard k <= n - mostExcluded else {
            throw LoupeError(.invalidArgument, "k = \(k) neighbours asked for, but the set has \(n) item\(n == 1 ? "" : "s")"
                             + (mostExcluded == 1 ? ", \(n - 1) besides the query item" : ""))
        }
        guard nq > 0 else { return [] }

        let qNorms = qSquared.map { $0.squareRoot() }
        // Tasks: query blocks × item parts. With fewer query blocks than threads the items are
        // split too (each thread then reads only its part of them), and the parts' states are
        // merged per query before re-ranking.
        let threads = max(1, Threads.count)
        let qb = max(1, min(queryBlock, nq))
        let blocks = (nq + qb - 1) / qb
        let parts = blocks >= threads ? 1 : min(max(1, n / 256), (threads + blocks - 1) / blocks)
        // Each item's squared norm and norm (float64, `sum8`): computed here, or, with a single
        // query block, by the task that screens the item, right after its GEMM block.
        let fused = blocks == 1
        let ib = max(1, min(fused ? fusedItemBlock : itemBlock, (n + parts - 1) / parts))
        var itemSquared = fused ? [Double](repeating: 0, count: n) : Self.squaredNorms(features)
        var itemNorm = fused ? [Double](repeating: 0, count: n) : itemSquared.map { $0.squareRoot() }
        func nonFinite() throws {
            if let i = itemSquared.firstIndex(where: { !$0.isFinite }) {
                throw LoupeError(.invalidArgument, "item #\(i) has a NaN or infinite feature")
            }
        }
        if !fused { try nonFinite() }
        var results = [[Neighbor]](repeating: [], count: nq)
        var partial = [[CandidateState]](repeating: [], count: parts > 1 ? blocks * parts : 0)
        let lock = NSLock()
        var done = 0
        let bounds = Bounds(metric: metric, dimension: d)

        features.values.withUnsafeBufferPointer { items in
          itemSquared.withUnsafeMutableBufferPointer { sq in
          itemNorm.withUnsafeMutableBufferPointer { nx in
            let norms = ItemNorms(squared: UnsafePointer(sq.baseAddress!), norm: UnsafePointer(nx.baseAddress!))
            queries.values.withUnsafeBufferPointer { qs in
                results.withUnsafeMutableBufferPointer { out in
                    partial.withUnsafeMutableBufferPointer { partial in
                        parallelFor(blocks * parts) { task in
                            let b = task / parts, part = task % parts
                            let q0 = b * qb, q1 = min(nq, q0 + qb), rows = q1 - q0
                            var states = (0..<rows).map { _ in CandidateState(k: k) }
                            var scores = [Float](repeating: 0, count: rows * ib)
                            scores.withUnsafeMutableBufferPointer { c in
                                var j0 = part * n / parts
                                let end = (part + 1) * n / parts
                                while j0 < end {
                                    let j1 = min(end, j0 + ib), cols = j1 - j0
                                    // scores[r, j] = query (q0 + r) · item (j0 + j)
                                    sgemmAnyOrder(transB: true, m: rows, n: cols, k: d,
                                          a: qs.baseAddress! + q0 * d, lda: d,
                                          b: items.baseAddress! + j0 * d, ldb: d,
                                          c: c.baseAddress!, ldc: ib)
                                    if fused {
                                        rowSquaredNorms(items.baseAddress! + j0 * d, rows: cols, columns: d, stride: d,
                                                        into: sq.baseAddress! + j0)
                                        for j in j0..<j1 { nx[j] = sq[j].squareRoot() }
                                    }
                                    for r in 0..<rows {
                                        let q = q0 + r
                                        screen(scores: c.baseAddress! + r * ib, items: j0..<j1,
                                               excluded: excluding.isEmpty ? nil : excluding[q],
                                               queryNorm: qNorms[q], querySquared: qSquared[q],
                                               bounds: bounds, norms: norms, state: &states[r])
                                    }
                                    j0 = j1
                                }
                            }
                            guard parts == 1 else {
                                partial[task] = states
                                return
                            }
                            for r in 0..<rows {
                                let q = q0 + r
                                out[q] = rerank(states[r], query: qs.baseAddress! + q * d, querySquared: qSquared[q],
                                                items: items.baseAddress!, norms: norms, k: k)
                            }
                            if let progress {
                                lock.lock()
                                done += rows
                                progress(done, nq)
                                lock.unlock()
                            }
                        }
                        guard parts > 1 else { return }
                        parallelFor(nq) { q in
                            let b = q / qb, r = q - b * qb
                            var state = partial[b * parts][r]
                            for part in 1..<parts { state.merge(partial[b * parts + part][r]) }
                            out[q] = rerank(state, query: qs.baseAddress! + q * d, querySquared: qSquared[q],
                                            items: items.baseAddress!, norms: norms, k: k)
                        }
                        progress?(nq, nq)
                    }
                }
            }
          }
          }
        }
        if fused { try nonFinite() }
        return results
    }

    /// Each row's squared Euclidean norm in float64, summed as `sum8` does (`rowSquaredNorms`,
    /// blocks of rows in parallel).
    static func squaredNorms(_ m: FeatureMatrix) -> [Double] {
        let d = m.columns
        var out = [Double](repeating: 0, count: m.rows)
        let chunk = 256
        m.values.withUnsafeBufferPointer { v in
            out.withUnsafeMutableBufferPointer { o in
                parallelFor((m.rows + chunk - 1) / chunk) { c in
                    let r0 = c * chunk, r1 = min(m.rows, r0 + chunk)
                    rowSquaredNorms(v.baseAddress! + r0 * d, rows: r1 - r0, columns: d, stride: d, into: o.baseAddress! + r0)
                }
            }
        }
        return out
    }

    /// `Σ_{i<d} term(i)` in float64 as eight interleaved partial sums (term i goes to sum
    /// i mod 8, each sum in index order), added sum 0 to sum 7 left to right. Fixed, so every
    /// key is reproducible; eight sums rather than one keep the additions from waiting on each
    /// other.
    @inline(__always)
    static func sum8(_ d: Int, _ term: (Int) -> Double) -> Double {
        var acc = SIMD8<Double>()
        var i = 0
        while i + 8 <= d {
            acc += SIMD8<Double>(term(i), term(i + 1), term(i + 2), term(i + 3),
                                 term(i + 4), term(i + 5), term(i + 6), term(i + 7))
            i += 8
        }
        while i < d {
            acc[i & 7] += term(i)
            i += 1
        }
        var s = acc[0]
        for l in 1..<8 { s += acc[l] }
        return s
    }

    /// The float64 ranking key of item `j` for a query: the squared Euclidean distance for
    /// `l2`, `1 − cos` for `cosine`, every sum as `sum8` adds it, so the value is reproducible. The
    /// cosine divides by `√(‖q‖² ‖x‖²)`, which for q = x is exactly `‖q‖²` (√fl(a²) = a in
    /// binary floating point), so an item's distance to itself is exactly 0.
    @inline(__always)
    func directKey(query: UnsafePointer<Float>, querySquared: Double, item j: Int, items: UnsafePointer<Float>,
                   norms: ItemNorms) -> Double {
        let d = features.columns
        let x = items + j * d
        switch metric {
        case .l2:
            return Self.sum8(d) {
                let t = Double(query[$0]) - Double(x[$0])
                return t * t
            }
        case .cosine:
            let nx2 = norms.squared[j]
            if querySquared == 0 || nx2 == 0 { return 1 }
            let s = Self.sum8(d) { Double(query[$0]) * Double(x[$0]) }
            return 1 - s / (querySquared * nx2).squareRoot()
        }
    }

    /// Each item's squared norm and norm, by item index.
    struct ItemNorms {
        var squared: UnsafePointer<Double>
        var norm: UnsafePointer<Double>
    }

    /// The reported distance for a ranking key.
    @inline(__always)
    func distance(key: Double) -> Double { metric == .l2 ? key.squareRoot() : key }

    /// The error bounds' constants for D features (see the type's documentation).
    struct Bounds {
        var metric: DistanceMetric
        /// γ_D for float32, with a 0.1 % margin for the float64 arithmetic of the bound itself.
        var gamma32: Double
        /// Underflow: at most 2⁻¹⁵⁰ per product, D products (taken as D · 2⁻¹⁴⁹).
        var underflow: Double
        /// The float64 rounding of the norms, the approximate key and the direct key, relative to
        /// ‖q‖² + ‖x‖² (l2) or absolute (cosine): (4D + 32) u₆₄.
        var float64: Double

        init(metric: DistanceMetric, dimension d: Int) {
            self.metric = metric
            let u = 0x1p-24, du = Double(d) * u
            gamma32 = du < 0.5 ? 1.001 * du / (1 - du) : .infinity
            underflow = Double(d) * 0x1p-149
            float64 = Double(4 * d + 32) * 0x1p-53
        }
    }

    /// Folds one query's scores against items `items` into its candidate state.
    @inline(__always)
    func screen(scores: UnsafePointer<Float>, items: Range<Int>, excluded: Int?, queryNorm nq: Double,
                querySquared nq2: Double, bounds: Bounds, norms: ItemNorms, state: inout CandidateState) {
        let j0 = items.lowerBound
        // Most items are ruled out at once: lower > T implies upper > T, so neither the heap
        // nor the candidates change. Only for a finite score: an overflowed one (±∞, NaN)
        // takes the full path, which gives it [−∞, +∞] so that its direct key decides.
        var t = state.threshold
        for j in items where j != excluded {
            let s = Double(scores[j - j0])
            let nx = norms.norm[j]
            var key: Double, slack: Double
            switch metric {
            case .l2:
                let nx2 = norms.squared[j]
                key = nq2 + nx2 - 2 * s
                slack = 2 * (bounds.gamma32 * nq * nx + bounds.underflow) + bounds.float64 * (nq2 + nx2)
            case .cosine:
                if nq == 0 || nx == 0 {
                    key = 1
                    slack = 0
                } else {
                    let p = (nq2 * norms.squared[j]).squareRoot()
                    key = 1 - s / p
                    slack = bounds.gamma32 + bounds.underflow / p + bounds.float64
                }
            }
            if s.isFinite && key - slack > t { continue }
            if !s.isFinite || !slack.isFinite {
                state.offer(upper: .infinity, lower: -.infinity, item: j)
            } else {
                state.offer(upper: key + slack, lower: key - slack, item: j)
            }
            t = state.threshold
        }
        state.pruneIfLarge()
    }

    /// The k nearest of a query's candidates by their direct float64 keys, ties by index.
    func rerank(_ state: CandidateState, query: UnsafePointer<Float>, querySquared: Double,
                items: UnsafePointer<Float>, norms: ItemNorms, k: Int) -> [Neighbor] {
        let t = state.threshold
        var ranked: [(key: Double, index: Int)] = []
        ranked.reserveCapacity(state.candidates.count)
        for c in state.candidates where c.lower <= t {
            ranked.append((directKey(query: query, querySquared: querySquared, item: c.item, items: items, norms: norms), c.item))
        }
        ranked.sort { $0.key != $1.key ? $0.key < $1.key : $0.index < $1.index }
        return ranked.prefix(k).map { Neighbor(index: $0.index, distance: distance(key: $0.key)) }
    }
}

/// One query's screening state: a max-heap of the k smallest upper bounds seen (its top is
/// the threshold T), and the items whose lower bound was at most T when they were seen.
struct CandidateState {
    let k: Int
    var heap: [Double] = []
    var candidates: [(lower: Double, item: Int)] = []

    init(k: Int) {
        self.k = k
        heap.reserveCapacity(k)
    }

    /// The k-th smallest upper bound so far (infinite before k items).
    var threshold: Double { heap.count < k ? .infinity : heap[0] }

    @inline(__always)
    mutating func offer(upper: Double, lower: Double, item: Int) {
        if heap.count < k {
            heap.append(upper)
            siftUp(heap.count - 1)
        } else if upper < heap[0] {
            heap[0] = upper
            siftDown(0)
        }
        if lower <= threshold { candidates.append((lower, item)) }
    }

    /// Takes in the state of the same query over other items: the k smallest upper bounds of
    /// both, and both candidate lists.
    mutating func merge(_ other: CandidateState) {
        for u in other.heap {
            if heap.count < k {
                heap.append(u)
                siftUp(heap.count - 1)
            } else if u < heap[0] {
                heap[0] = u
                siftDown(0)
            }
        }
        candidates += other.candidates
        pruneIfLarge()
    }

    /// Drops the candidates the threshold has since ruled out, once they are many.
    mutating func pruneIfLarge() {
        guard candidates.count > 4 * k + 256 else { return }
        let t = threshold
        candidates.removeAll { $0.lower > t }
    }

    private mutating func siftUp(_ i: Int) {
        var i = i
        while i > 0 {
            let p = (i - 1) / 2
            guard heap[i] > heap[p] else { return }
            heap.swapAt(i, p)
            i = p
        }
    }

    private mutating func siftDown(_ i: Int) {
        var i = i
        let n = heap.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n && heap[l] > heap[m] { m = l }
            if r < n && heap[r] > heap[m] { m = r }
            if m == i { return }
            heap.swapAt(i, m)
            i = m
        }
    }
}
