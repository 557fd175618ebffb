import Foundation
import LoupeExplain
import LoupeFormats
import LoupeGraph
import LoupeTensor
import XCTest

/// `Similarity` against scipy / scikit-image, and `ModelRandomization`'s order, scale, BN and
/// determinism (fixtures: Fixtures/sanity/, written by Scripts/fixtures/make-sanity-fixtures.py).
final class SanityTests: XCTestCase {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/sanity")
    static let shapes = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../SampleModels/shapes").standardizedFileURL

    func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: Self.folder.appendingPathComponent(name))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func testSimilaritiesMatchScipyAndSkimage() throws {
        let cases = try XCTUnwrap(try json("similarity.json")["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 4)
        for c in cases {
            let name = c["name"] as! String
            let shape = c["shape"] as! [Int]
            let a = Tensor(shape: shape, floats: (c["a"] as! [Double]).map(Float.init))
            let b = Tensor(shape: shape, floats: (c["b"] as! [Double]).map(Float.init))
            // The fixture's maps are float64; Loupe's are float32 (rounding ≈ 1e-7 relative).
            let s = try Similarity.compare(a, b)
            for (key, got) in zip(Similarity.Scores.names, s.values) {
                let want = c[key] as! Double
                XCTAssertEqual(got, want, accuracy: 1e-4, "\(name) \(key)")
            }
            let p = try Similarity.planes(a)
            let h = try Similarity.hog(Similarity.normalise(p.absolute), height: p.height, width: p.width)
            XCTAssertEqual(h.count, c["hog_length"] as? Int, name)
            for (got, want) in zip(h, c["hog_a_first"] as! [Double]) { XCTAssertEqual(got, want, accuracy: 1e-4, name) }
        }
    }

    func testRanksAverageTiesAsScipy() {
        XCTAssertEqual(Similarity.ranks([3, 1, 3, 2, 3]), [4, 1, 4, 2, 4])
        XCTAssertTrue(Similarity.spearman([1, 1, 1], [1, 2, 3]).isNaN)
    }

    func testOrderIsReverseTopologicalOnShapesModels() throws {
        let want = try json("shapes-order.json")
        for file in ["shapes-gap", "shapes-vgg"] {
            let g = try ONNXImporter.load(path: Self.shapes.appendingPathComponent("\(file).onnx").path)
            let r = try ModelRandomization(graph: g, seed: 0)
            XCTAssertEqual(r.layers.map(\.node), want[file] as? [String], file)
        }
    }

    /// Nodes stored out of order; Conv + BatchNormalization, MatMul and Gemm.
    func testBatchNormModelOrderScaleAndDeterminism() throws {
        let want = try json("sanity-bn.json")
        let g = try ONNXImporter.load(path: Self.folder.appendingPathComponent("sanity-bn.onnx").path)
        let r = try ModelRandomization(graph: g, seed: 7)
        XCTAssertEqual(r.layers.map(\.node), want["order"] as? [String])
        let weights = want["weights"] as! [String: [String]]
        for l in r.layers { XCTAssertEqual(l.tensors, weights[l.node], l.node) }
        let stds = want["std"] as! [String: Double]
        for l in r.layers {
            for name in l.tensors {
                let orig = g.initializers[name]!, new = r.randomized[name]!
                XCTAssertEqual(new.shape, orig.shape)
                XCTAssertNotEqual(new.floats, orig.floats, name)
                // The fixture's std of the original, and the drawn std within sampling error
                // (the std of a sample std of n normal draws is ≈ σ/√(2n); 5 of those).
                let sigma = try XCTUnwrap(stds[name])
                XCTAssertEqual(ModelRandomization.standardDeviation(orig.floats), sigma, accuracy: 1e-6 * max(sigma, 1))
                let n = Double(orig.count)
                XCTAssertEqual(ModelRandomization.standardDeviation(new.floats), sigma, accuracy: 5 * sigma / (2 * n).squareRoot(), name)
            }
        }
        // Cascading: step k changes exactly the first k layers' tensors; BN never.
        let bn = want["batchnorm"] as! [String: [Double]]
        for k in 0...r.layers.count {
            let gk = r.graph(randomizedThrough: k)
            for (i, l) in r.layers.enumerated() {
                for name in l.tensors { XCTAssertEqual(gk.initializers[name]!.floats == g.initializers[name]!.floats, i >= k, "\(name) at step \(k)") }
            }
            for (name, values) in bn { XCTAssertEqual(gk.initializers[name]!.floats, values.map(Float.init), "\(name) at step \(k)") }
            XCTAssertEqual(gk.nodes.filter { $0.opType == "BatchNormalization" }.count, 1)
        }
        // The same seed, the same weights; another seed, others.
        let again = try ModelRandomization(graph: g, seed: 7), other = try ModelRandomization(graph: g, seed: 8)
        for (name, t) in r.randomized {
            XCTAssertEqual(again.randomized[name]!.floats, t.floats)
            XCTAssertNotEqual(other.randomized[name]!.floats, t.floats)
        }
    }

    /// The whole check runs through the Method seam and is deterministic for a seed.
    func testCascadeOnShapesGapIsDeterministic() throws {
        let g = try ONNXImporter.load(path: Self.shapes.appendingPathComponent("shapes-gap.onnx").path)
        let m = try ExplainableModel(graph: g)
        let image = try ImageIO.read(path: Self.shapes.appendingPathComponent("test/000-circle.png").path)
        let x = try Preprocessing.none.tensor(from: image, height: 64, width: 64)
        let a = try SanityCheck.run(.saliency, model: m, input: x, options: Method.Options(), seed: 3)
        let b = try SanityCheck.run(.saliency, model: m, input: x, options: Method.Options(), seed: 3)
        XCTAssertEqual(a.steps.map(\.layer.node), ["/15/Gemm", "/10/Conv", "/7/Conv", "/3/Conv", "/0/Conv"])
        XCTAssertEqual(a.steps.map(\.scores), b.steps.map(\.scores))
    }

    /// The paper's finding on the top layers (Adebayo et al. 2018, Fig. 2): once the classifier
    /// is random, guided backprop's map is closer to the original than saliency's. Averaged
    /// over the first 24 test images of the shapes set (rank correlation of absolute values).
    func testGuidedBackpropChangesLessThanSaliencyAtTheTop() throws {
        let g = try ONNXImporter.load(path: Self.shapes.appendingPathComponent("shapes-gap.onnx").path)
        let m = try ExplainableModel(graph: g)
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.shapes.appendingPathComponent("test").path)
            .filter { $0.hasSuffix(".png") }.sorted().prefix(24)
        var gbp = 0.0, sal = 0.0
        for f in files {
            let image = try ImageIO.read(path: Self.shapes.appendingPathComponent("test/\(f)").path)
            let x = try Preprocessing.none.tensor(from: image, height: 64, width: 64)
            gbp += try SanityCheck.run(.guidedBackprop, model: m, input: x, options: Method.Options(), seed: 0).steps[0].scores.spearmanAbs
            sal += try SanityCheck.run(.saliency, model: m, input: x, options: Method.Options(), seed: 0).steps[0].scores.spearmanAbs
        }
        print("after randomising /15/Gemm, mean spearman_abs over \(files.count) images: guided backprop \(gbp / Double(files.count)), saliency \(sal / Double(files.count))")
        XCTAssertGreaterThan(gbp, sal)
    }
}
