import XCTest
import LoupeTensor
import LoupeTestSupport
@testable import LoupeAnalysis

/// `NearestNeighbors` against a brute-force float64 reference written here independently (every
/// item's distance, sorted by distance then index), on random data with exact duplicate rows,
/// near-ties (one-ulp changes), zero rows, many GEMM blocks and both thread counts; and the
/// leave-one-out vote on a hand-made set.
final class NearestNeighborsTests: XCTestCase {
    /// Σ terms in float64 as eight partial sums (term i to sum i mod 8, each in index order),
    /// then sum 0 + sum 1 + ... + sum 7 left to right: the order the library documents.
    func lanes(_ terms: [Double]) -> Double {
        var lane = [Double](repeating: 0, count: 8)
        for (i, t) in terms.enumerated() { lane[i % 8] += t }
        return lane.dropFirst().reduce(lane[0], +)
    }

    /// Brute force: the float64 key of every item (squared Euclidean, or 1 − q·x / √(‖q‖²‖x‖²),
    /// each sum by `lanes`), sorted by key then index; the reported distance is √key for l2.
    func reference(_ items: FeatureMatrix, _ queries: FeatureMatrix, k: Int, metric: DistanceMetric,
                   excluding: [Int?]) -> [[Neighbor]] {
        func dot(_ a: [Float], _ b: [Float]) -> Double { lanes(zip(a, b).map { Double($0) * Double($1) }) }
        return (0..<queries.rows).map { q in
            let a = Array(queries.row(q))
            var all: [(Double, Int)] = []
            for j in 0..<items.rows where excluding.isEmpty || excluding[q] != j {
                let b = Array(items.row(j))
                var key = 0.0
                switch metric {
                case .l2:
                    key = lanes(zip(a, b).map { (x: Float, y: Float) -> Double in
                        let t = Double(x) - Double(y)
                        return t * t
                    })
                case .cosine:
                    let na = dot(a, a), nb = dot(b, b)
                    key = na == 0 || nb == 0 ? 1 : 1 - dot(a, b) / (na * nb).squareRoot()
                }
                all.append((key, j))
            }
            all.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            return all.prefix(k).map { Neighbor(index: $0.1, distance: metric == .l2 ? $0.0.squareRoot() : $0.0) }
        }
    }

    /// Random rows with traps: rows 10...17 copy row 3 exactly, row 18 is row 3 with one value one
    /// ulp up, row 19 one ulp down, rows 20 and 21 are zero, row 22 is row 5 scaled by 2 (cosine 0
    /// to row 5), and values span a few orders of magnitude.
    func trickySet(rows: Int, columns: Int, seed: UInt64) -> FeatureMatrix {
        var rng = SeededRandom(seed: seed)
        var v = (0..<(rows * columns)).map { _ in rng.uniform(-1, 1) * (rng.next() % 4 == 0 ? 30 : 1) }
        func copy(_ from: Int, _ to: Int, _ f: (Float) -> Float = { $0 }) {
            for j in 0..<columns { v[to * columns + j] = f(v[from * columns + j]) }
        }
        for r in 10...17 { copy(3, r) }
        copy(3, 18); v[18 * columns + 2 % columns] = v[18 * columns + 2 % columns].nextUp
        copy(3, 19); v[19 * columns + 5 % columns] = v[19 * columns + 5 % columns].nextDown
        for j in 0..<columns { v[20 * columns + j] = 0; v[21 * columns + j] = 0 }
        copy(5, 22) { $0 * 2 }
        return FeatureMatrix(rows: rows, columns: columns, values: v)
    }

    func assertSame(_ got: [[Neighbor]], _ want: [[Neighbor]], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, what, file: file, line: line)
        for (q, (g, w)) in zip(got, want).enumerated() where g != w {
            XCTFail("\(what), query \(q): got \(g.map { "\($0.index):\($0.distance)" }) want \(w.map { "\($0.index):\($0.distance)" })",
                    file: file, line: line)
            return
        }
    }

    func testEqualsBruteForceOnItemsAndFreshQueries() throws {
        let items = trickySet(rows: 157, columns: 37, seed: 11)
        let fresh = trickySet(rows: 30, columns: 37, seed: 12)
        var queries = items.values[(0 * 37)..<(25 * 37)] + fresh.values  // items 0...24 (with the traps) and 30 new rows
        queries += items.row(3)  // exactly item 3, not excluded: distance 0 to rows 3 and 10...17
        let q = FeatureMatrix(rows: 56, columns: 37, values: Array(queries))
        let self25: [Int?] = (0..<25).map { $0 } + [Int?](repeating: nil, count: 31)
        let saved = Threads.count
        defer { Threads.set(saved) }
        for metric in DistanceMetric.allCases {
            for (qb, ib) in [(128, 2048), (1, 1), (3, 7), (5, 64), (56, 157)] {
                for threads in [1, 2] {
                    Threads.set(threads)
                    var nn = NearestNeighbors(features: items, metric: metric)
                    nn.queryBlock = qb
                    nn.itemBlock = ib
                    nn.fusedItemBlock = ib
                    for k in [1, 5, 12] {
                        let what = "\(metric) k=\(k) blocks \(qb)x\(ib) threads \(threads)"
                        assertSame(try nn.search(queries: q, k: k, excluding: self25), reference(items, q, k: k, metric: metric, excluding: self25), what)
                    }
                    // k = N − 1 with every item excluded from its own list: the whole order.
                    let ex: [Int?] = (0..<157).map { $0 }
                    assertSame(try nn.search(queries: items, k: 156, excluding: ex),
                               reference(items, items, k: 156, metric: metric, excluding: ex), "\(metric) k=N-1 blocks \(qb)x\(ib)")
                }
            }
        }
    }

    func testDuplicatesTieByIndexAndZeroRowsAreAtCosineOne() throws {
        let items = trickySet(rows: 40, columns: 9, seed: 5)
        let nnL2 = NearestNeighbors(features: items, metric: .l2)
        let r = try nnL2.search(queries: FeatureMatrix(rows: 1, columns: 9, values: Array(items.row(3))), k: 9, excluding: [3])
        XCTAssertEqual(Array(r[0].map(\.index).prefix(8)), Array(10...17))
        XCTAssertEqual(r[0].prefix(8).map(\.distance), [Double](repeating: 0, count: 8))
        XCTAssertTrue([18, 19].contains(r[0][8].index))
        XCTAssertGreaterThan(r[0][8].distance, 0)

        var nnCos = NearestNeighbors(features: items, metric: .cosine)
        nnCos.itemBlock = 4
        nnCos.fusedItemBlock = 4
        let zero = try nnCos.search(queries: FeatureMatrix(rows: 1, columns: 9, values: Array(items.row(20))), k: 39, excluding: [20])
        XCTAssertEqual(zero[0].map(\.index), (0..<40).filter { $0 != 20 })  // every distance is 1: index order
        XCTAssertTrue(zero[0].allSatisfy { $0.distance == 1 })
        let scaled = try nnCos.search(queries: FeatureMatrix(rows: 1, columns: 9, values: Array(items.row(22))), k: 1, excluding: [22])
        XCTAssertEqual(scaled[0][0].index, 5)
        XCTAssertEqual(scaled[0][0].distance, 0, accuracy: 1e-15)
        let same = try nnCos.search(queries: FeatureMatrix(rows: 1, columns: 9, values: Array(items.row(7))), k: 1, excluding: [nil])
        XCTAssertEqual(same[0], [Neighbor(index: 7, distance: 0)])  // exactly 0 to itself
    }

    func testRefusals() throws {
        let items = trickySet(rows: 30, columns: 4, seed: 1)
        let nn = NearestNeighbors(features: items, metric: .l2)
        let q = FeatureMatrix(rows: 1, columns: 4, values: Array(items.row(0)))
        XCTAssertThrowsError(try nn.search(queries: q, k: 30, excluding: [0])) {
            XCTAssertTrue("\($0)".contains("the set has 30 items, 29 besides the query item"), "\($0)")
        }
        XCTAssertEqual(try nn.search(queries: q, k: 30, excluding: [nil])[0].count, 30)
        XCTAssertThrowsError(try nn.search(queries: q, k: 0, excluding: []))
        XCTAssertThrowsError(try nn.search(queries: q, k: 1, excluding: [30]))
        XCTAssertThrowsError(try nn.search(queries: FeatureMatrix(rows: 1, columns: 3, values: [1, 2, 3]), k: 1, excluding: []))
        var bad = items
        bad.values[7] = .nan
        XCTAssertThrowsError(try NearestNeighbors(features: bad, metric: .cosine).search(queries: q, k: 1, excluding: [])) {
            XCTAssertTrue("\($0)".contains("item #1"), "\($0)")
        }
        XCTAssertThrowsError(try nn.search(queries: FeatureMatrix(rows: 2, columns: 4, values: [1, 2, 3, 4, 5, -.infinity, 0, 0]), k: 1)) {
            XCTAssertTrue("\($0)".contains("query 1"), "\($0)")
        }
    }

    /// Large values push products past float32's range: the screening keeps such items and the
    /// float64 re-ranking still orders them exactly.
    func testOverflowingScoresStayExact() throws {
        var rng = SeededRandom(seed: 3)
        var v = (0..<(50 * 6)).map { _ in rng.uniform(-1, 1) * 3e19 }
        v[17] = .greatestFiniteMagnitude
        v[40] = -.greatestFiniteMagnitude
        let items = FeatureMatrix(rows: 50, columns: 6, values: v)
        for metric in DistanceMetric.allCases {
            let nn = NearestNeighbors(features: items, metric: metric)
            assertSame(try nn.search(queries: items, k: 7, excluding: (0..<50).map { $0 }),
                       reference(items, items, k: 7, metric: metric, excluding: (0..<50).map { $0 }), "\(metric) overflow")
        }
    }

    /// A dot product that overflows float32 to −∞ (finite features) makes the approximate key
    /// +∞; the item must still be re-ranked by its direct key (review finding: an early exit
    /// once skipped it). Query (1e20, 0): item #1 (−1e20, 0) is nearer (‖q − x‖² = 4e40) than
    /// item #0 (0, 1e21) (about 1e42) for l2; for cosine #0 (1 − cos = 1) beats #1 (2).
    func testNegativeOverflowStillReranks() throws {
        let items = FeatureMatrix(rows: 2, columns: 2, values: [0, 1e21, -1e20, 0])
        let query = FeatureMatrix(rows: 1, columns: 2, values: [1e20, 0])
        for metric in DistanceMetric.allCases {
            let nn = NearestNeighbors(features: items, metric: metric)
            let found = try nn.search(queries: query, k: 1)
            XCTAssertEqual(found[0].map(\.index), [metric == .l2 ? 1 : 0], "\(metric)")
            assertSame(try nn.search(queries: query, k: 2), reference(items, query, k: 2, metric: metric, excluding: [nil]), "\(metric)")
        }
    }

    func testVoteTakesTheMajorityAndTiesGoToTheNearestTiedLabel() {
        let labels = [0, 1, 1, 2, 2, 7]
        func vote(_ order: [Int]) -> Int {
            KNNAccuracy.vote(order.enumerated().map { Neighbor(index: $0.element, distance: Double($0.offset)) }, labels: labels)
        }
        XCTAssertEqual(vote([0, 1, 2]), 1)          // 1 has two votes
        XCTAssertEqual(vote([0, 1]), 0)             // tie: the nearest neighbour's label
        XCTAssertEqual(vote([1, 0]), 1)
        XCTAssertEqual(vote([0, 3, 1, 4, 2]), 2)    // 1 and 2 tie at two; 2 is met first; 0 has one
        XCTAssertEqual(vote([5]), 7)
    }

    /// Points on a line (l2): 0, 1, 3, 7, 8, 20 labelled 0, 0, 1, 1, 1, 0, and 19.5 unlabelled
    /// (which would be item 5's nearest neighbour if it took part).
    func testLeaveOneOutOnAHandMadeSet() throws {
        let x: [Float] = [0, 1, 3, 7, 8, 20, 19.5]
        let m = FeatureMatrix(rows: 7, columns: 1, values: x)
        let labels = [0, 0, 1, 1, 1, 0, -1]
        // k = 1: item 2 (3) goes to 1 (label 0), item 5 (20) to 8 (label 1): 4 of 6.
        let a1 = try leaveOneOutAccuracy(features: m, labels: labels, k: 1, metric: .l2)
        XCTAssertEqual(a1.correct, 4)
        XCTAssertEqual(a1.total, 6)
        XCTAssertEqual(a1.perClass, [.init(label: 0, correct: 2, total: 3), .init(label: 1, correct: 2, total: 3)])
        // k = 2: items 0 (neighbours 1, 3) and 1 (0, 3) are ties won by the nearest (label 0).
        let a2 = try leaveOneOutAccuracy(features: m, labels: labels, k: 2, metric: .l2)
        XCTAssertEqual(a2.correct, 4)
        XCTAssertEqual(a2.perClass, [.init(label: 0, correct: 2, total: 3), .init(label: 1, correct: 2, total: 3)])
        XCTAssertEqual(a2.accuracy, 4.0 / 6.0)
        // k = 3: items 0 and 1 reach 3 and 7 (label 1), item 2 gets 1, 0 and 7 (label 0 wins),
        // item 5 gets 8, 7 and 3 (label 1): only items 3 and 4 are right.
        let a3 = try leaveOneOutAccuracy(features: m, labels: labels, k: 3, metric: .l2)
        XCTAssertEqual(a3.perClass, [.init(label: 0, correct: 0, total: 3), .init(label: 1, correct: 2, total: 3)])
        XCTAssertThrowsError(try leaveOneOutAccuracy(features: m, labels: labels, k: 6, metric: .l2)) {
            XCTAssertTrue("\($0)".contains("6 labelled items"), "\($0)")
        }
    }
}
