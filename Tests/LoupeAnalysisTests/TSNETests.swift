import Foundation
import LoupeTensor
import LoupeTestSupport
import XCTest

@testable import LoupeAnalysis

/// t-SNE against openTSNE (Tests/LoupeAnalysisTests/Fixtures/tsne-reference.json, written by
/// Scripts/fixtures/make-tsne-fixture.py): the affinities P, the Barnes-Hut and interpolated
/// gradients and KL divergences against openTSNE's own and against the exact float64 gradient;
/// the perplexity of each row; bitwise determinism over thread counts.
final class TSNETests: XCTestCase {
    struct Reference: Decodable {
        var n: Int, d: Int, perplexity: Double, k: Int
        var x: [Float]
        var p_indptr: [Int], p_indices: [Int32], p_data: [Double]
        var y: [Double]
        var grad_bh: [Double], kl_bh: Double
        var grad_fft: [Double], kl_fft: Double
        var grad_exact: [Double], kl_exact: Double
        var y_tiny: [Double], grad_bh_tiny: [Double], kl_bh_tiny: Double
        var y_steps: [Double]
    }

    static let reference: Reference = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/tsne-reference.json")
        return try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }()

    var ref: Reference { Self.reference }
    var p: TSNEAffinities { TSNEAffinities(n: ref.n, rowStart: ref.p_indptr, columns: ref.p_indices, values: ref.p_data) }

    /// ‖a - b‖ / ‖b‖ over all entries.
    func relativeError(_ a: [Double], _ b: [Double]) -> Double {
        var num = 0.0, den = 0.0
        for (u, v) in zip(a, b) { num += (u - v) * (u - v); den += v * v }
        return (num / den).squareRoot()
    }

    func testAffinitiesEqualOpenTSNEs() throws {
        let x = FeatureMatrix(rows: ref.n, columns: ref.d, values: ref.x)
        let mine = try TSNEAffinities(x, neighbours: ref.k, perplexity: ref.perplexity)
        // Same sparsity pattern: the exact neighbours are the same sets.
        XCTAssertEqual(mine.rowStart, ref.p_indptr)
        XCTAssertEqual(mine.columns, ref.p_indices)
        // Values: the bisection stops within 1e-8 nats of the target entropy in both, and the
        // distances come from float32 data (float64 here, sklearn's own float64 formula there).
        var worst = 0.0
        for (a, b) in zip(mine.values, ref.p_data) { worst = max(worst, abs(a - b) / b) }
        XCTAssertLessThan(worst, 1e-5, "largest relative difference in P")
        XCTAssertEqual(mine.values.reduce(0, +), 1, accuracy: 1e-12)
        print("P vs openTSNE: \(mine.values.count) entries, largest relative difference \(worst)")
    }

    func testConditionalRowsHitThePerplexity() {
        var rng = SplitMix64(seed: 3)
        let n = 50, k = 45
        for perplexity in [2.0, 10.0, 15.0] {
            // Distances of very different scales per row.
            var d = [Double](repeating: 0, count: n * k)
            for i in 0..<n {
                let scale = pow(10, Double(i % 5) - 2)
                for a in 0..<k { d[i * k + a] = scale * (0.1 + 3 * Double(rng.nextFloat())) }
            }
            let cond = TSNEAffinities.conditionalProbabilities(distances: d, n: n, k: k, perplexity: perplexity)
            for i in 0..<n {
                let row = cond[(i * k)..<((i + 1) * k)]
                XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-12)
                let h = -row.reduce(0.0) { $0 + ($1 > 0 ? $1 * log($1) : 0) }
                // openTSNE's tolerance: 1e-8 nats on the entropy.
                XCTAssertEqual(exp(h), perplexity, accuracy: perplexity * 1e-6, "row \(i), perplexity \(perplexity)")
            }
        }
    }

    /// The exact gradient computed here in float64, O(N²): the fixture's numpy one, checked once more.
    func testFixtureExactGradientAgreesWithANaiveOne() {
        let n = ref.n, y = ref.y
        var dense = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for e in ref.p_indptr[i]..<ref.p_indptr[i + 1] { dense[i * n + Int(ref.p_indices[e])] = ref.p_data[e] } }
        var z = 0.0
        for i in 0..<n { for j in 0..<n where i != j {
            let d0 = y[2 * i] - y[2 * j], d1 = y[2 * i + 1] - y[2 * j + 1]
            z += 1 / (1 + d0 * d0 + d1 * d1)
        } }
        var g = [Double](repeating: 0, count: 2 * n)
        for i in 0..<n { for j in 0..<n where i != j {
            let d0 = y[2 * i] - y[2 * j], d1 = y[2 * i + 1] - y[2 * j + 1]
            let q = 1 / (1 + d0 * d0 + d1 * d1)
            g[2 * i] += (dense[i * n + j] - q / z) * q * d0
            g[2 * i + 1] += (dense[i * n + j] - q / z) * q * d1
        } }
        XCTAssertLessThan(relativeError(g, ref.grad_exact), 1e-12)
    }

    func testBarnesHutGradientAgainstOpenTSNEAndExact() {
        var g = [Double](repeating: 0, count: ref.y.count)
        let z = tsneBarnesHutRepulsion(ref.y, theta: 0.5, into: &g)
        let (sumP, klTerms) = p.attractiveForces(ref.y, exaggeration: 1, into: &g, evaluateKL: true)
        let kl = klTerms + sumP * log(z + tsneEpsilon)
        let vsOpenTSNE = relativeError(g, ref.grad_bh), vsExact = relativeError(g, ref.grad_exact)
        print("Barnes-Hut gradient: relative error \(vsOpenTSNE) vs openTSNE's, \(vsExact) vs exact; KL \(kl) (openTSNE \(ref.kl_bh), exact \(ref.kl_exact))")
        // The same tree and the same opening test as openTSNE: equal up to summation order.
        XCTAssertLessThan(vsOpenTSNE, 1e-10)
        XCTAssertEqual(kl, ref.kl_bh, accuracy: 1e-10)
        // θ = 0.5 approximates each far cell's q by its centre of mass: a few per cent on the
        // repulsion (van der Maaten 2014, Fig. 3), less on the sum with the exact attraction.
        XCTAssertLessThan(vsExact, 0.05)
        XCTAssertEqual(kl, ref.kl_exact, accuracy: 0.02)
    }

    /// At the scale of the initialisation (standard deviation 1e-4) with near-duplicates:
    /// leaves shared by several points, and a leaf skipped as the point itself only within
    /// machine epsilon, as openTSNE does. Skipping leaves within 1e-6 instead (a Loupe version
    /// did) drops those leaves from Z and the forces: 1.4e-3 relative here, and 3.4e-2 on the
    /// embedding after the 30 steps of the next test.
    func testBarnesHutGradientOnNearDuplicatesAgainstOpenTSNE() {
        var g = [Double](repeating: 0, count: ref.y_tiny.count)
        let z = tsneBarnesHutRepulsion(ref.y_tiny, theta: 0.5, into: &g)
        let (sumP, klTerms) = p.attractiveForces(ref.y_tiny, exaggeration: 1, into: &g, evaluateKL: true)
        let kl = klTerms + sumP * log(z + tsneEpsilon)
        let error = relativeError(g, ref.grad_bh_tiny)
        print("Barnes-Hut gradient at scale 1e-4 with near-duplicates: relative error \(error) vs openTSNE's; KL \(kl) (openTSNE \(ref.kl_bh_tiny))")
        XCTAssertLessThan(error, 1e-12)
        XCTAssertEqual(kl, ref.kl_bh_tiny, accuracy: 1e-12)
    }

    /// openTSNE's `gradient_descent` from the same start and P: 20 iterations with
    /// exaggeration 12 and momentum 0.5, then 10 with neither. The same steps up to rounding
    /// (the embedding grows from 1e-4 to about 10 on the way).
    func testOptimizerStepsAgainstOpenTSNE() {
        var o = TSNEOptions()
        o.method = .barnesHut
        o.theta = 0.5   // the fixture's (openTSNE's); Loupe's default is 0.35
        var optimizer = TSNEOptimizer(initial: ref.y_tiny, p: p, options: o)
        optimizer.run(iterations: 20, exaggeration: 12, momentum: 0.5, firstIteration: 1, progress: nil)
        optimizer.run(iterations: 10, exaggeration: 1, momentum: 0.8, firstIteration: 21, progress: nil)
        let error = relativeError(optimizer.y, ref.y_steps)
        print("30 optimizer steps from scale 1e-4: relative difference \(error) from openTSNE's embedding")
        XCTAssertLessThan(error, 1e-9)
    }

    func testInterpolationGradientAgainstOpenTSNEAndExact() {
        let interp = TSNEInterpolation(nodesPerBox: 3, minBoxes: 50, boxWidth: 1)
        var g = [Double](repeating: 0, count: ref.y.count)
        let z = interp.repulsiveForces(ref.y, into: &g)
        let (sumP, klTerms) = p.attractiveForces(ref.y, exaggeration: 1, into: &g, evaluateKL: true)
        let kl = klTerms + sumP * log(z + tsneEpsilon)
        let vsOpenTSNE = relativeError(g, ref.grad_fft), vsExact = relativeError(g, ref.grad_exact)
        print("FFT gradient: relative error \(vsOpenTSNE) vs openTSNE's, \(vsExact) vs exact; KL \(kl) (openTSNE \(ref.kl_fft), exact \(ref.kl_exact))")
        // Same grid and nodes as openTSNE; the convolution runs in float32 here (float64 there):
        // ~1e-7 relative per value, amplified by the cancellation in y·φ₀ - φ₁ (|y| up to ~10).
        XCTAssertLessThan(vsOpenTSNE, 1e-4)
        XCTAssertEqual(kl, ref.kl_fft, accuracy: 1e-4)
        // Cubic interpolation on boxes of side ≤ 1 (here 50 boxes over ~20 units): the kernel
        // (1 + r²)⁻² varies little within a third of a box, errors of order 1e-3.
        XCTAssertLessThan(vsExact, 0.01)
        XCTAssertEqual(kl, ref.kl_exact, accuracy: 1e-3)
    }

    func run(_ method: TSNEOptions.Method, threads: Int) throws -> TSNEResult {
        let saved = Threads.count
        Threads.set(threads)
        defer { Threads.set(saved) }
        var o = TSNEOptions()
        o.perplexity = ref.perplexity
        o.earlyIterations = 60
        o.iterations = 60
        o.method = method
        o.seed = 5
        return try tsne(FeatureMatrix(rows: ref.n, columns: ref.d, values: ref.x), options: o, progress: nil)
    }

    func testDeterministicWhateverTheThreadCount() throws {
        for method in [TSNEOptions.Method.barnesHut, .fft] {
            let one = try run(method, threads: 1), two = try run(method, threads: 2)
            XCTAssertEqual(one.embedding, two.embedding, "\(method)")
            XCTAssertEqual(one.klDivergence.bitPattern, two.klDivergence.bitPattern, "\(method)")
            XCTAssertEqual(one.method, method)
        }
    }

    func testPCAOfLargeDataMatchesTheCovariance() {
        // 1,000 points in 80 dimensions, standard deviations 10, 7, 5, 3.5, 2.5 on the first five
        // axes and 1 on the others: the top axes are the coordinate axes, their variances the
        // columns' sample variances up to the sample covariances' second-order effect (~1 %).
        var rng = SplitMix64(seed: 9)
        let n = 1000, d = 80
        let sd: [Float] = [10, 7, 5, 3.5, 2.5]
        var v = [Float](repeating: 0, count: n * d)
        for i in 0..<n { for j in 0..<d { v[i * d + j] = Float(PCA.gaussian(&rng)) * (j < 5 ? sd[j] : 1) } }
        let pca = PCA(FeatureMatrix(rows: n, columns: d, values: v), components: 5, reduceOnlyIfLarger: true)
        XCTAssertEqual(pca.projected.columns, 5)
        // The subspace iteration against all 80 eigenvalues by Jacobi on the full covariance.
        var xc = v
        for j in 0..<d {
            var m: Float = 0
            for i in 0..<n { m += v[i * d + j] }
            m /= Float(n)
            for i in 0..<n { xc[i * d + j] -= m }
        }
        let full = PCA.jacobiEigen(PCA.covariance(xc, n: n, d: d), n: d).0.sorted(by: >)
        for j in 0..<5 {
            var m = 0.0, s = 0.0
            for i in 0..<n { m += Double(v[i * d + j]) }
            m /= Double(n)
            for i in 0..<n { s += (Double(v[i * d + j]) - m) * (Double(v[i * d + j]) - m) }
            s /= Double(n - 1)
            XCTAssertEqual(pca.variances[j], s, accuracy: 0.03 * s, "axis \(j)")
            XCTAssertEqual(pca.variances[j], full[j], accuracy: 1e-6 * full[j], "axis \(j)")
            // The projection's column variance is the eigenvalue.
            var pm = 0.0, ps = 0.0
            for i in 0..<n { pm += Double(pca.projected.values[i * 5 + j]) }
            pm /= Double(n)
            for i in 0..<n { ps += pow(Double(pca.projected.values[i * 5 + j]) - pm, 2) }
            XCTAssertEqual(ps / Double(n - 1), full[j], accuracy: 1e-4 * full[j])
        }
        let e = pca.initialEmbedding(seed: 1)
        XCTAssertEqual(PCA.standardDeviation(e, column: 0), 1e-4, accuracy: 1e-6)
    }

    func testTooLargeAPerplexityIsRefusedWithTheLimit() {
        var o = TSNEOptions()
        o.perplexity = 40
        XCTAssertThrowsError(try tsne(FeatureMatrix(rows: 100, columns: 3, values: [Float](repeating: 1, count: 300)), options: o)) { e in
            XCTAssertTrue("\(e)".contains("at most 33.00"), "\(e)")
        }
    }
}
