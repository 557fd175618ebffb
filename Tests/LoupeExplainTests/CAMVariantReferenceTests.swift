import Foundation
import LoupeExplain
import LoupeFormats
import LoupeGraph
import LoupeTensor
import XCTest

/// The CAM variants (Grad-CAM++, XGrad-CAM, HiResCAM, LayerCAM, Score-CAM, Ablation-CAM,
/// EigenCAM) against pytorch-grad-cam on the explanation fixtures' models, inputs, layers and
/// targets (Fixtures/cam-variants, made by Scripts/fixtures/make-cam-variant-fixtures.py).
///
/// Tolerances (the issue's): relative max error 1e-3 (of the reference's largest magnitude)
/// where the reference ran on the identical graph, else correlation ≥ 0.999 and relative L2
/// ≤ 3e-2. Raw maps are h×w at the layer after the ReLU; displayed maps (`CAMFamily.displayed`,
/// values in [0, 1]) are compared to pytorch-grad-cam's output with the same bars. EigenCAM is
/// compared up to the SVD's sign, and Loupe's sign rule is checked on its own.
final class CAMVariantReferenceTests: XCTestCase, ExplainFixtureSupport {
    let dir = explainFixtures.appendingPathComponent("cam-variants")

    func camManifest() throws -> [String: Any] {
        let data = try Data(contentsOf: dir.appendingPathComponent("manifest.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func loadHere(_ name: String) throws -> Tensor { try NPY.read(path: dir.appendingPathComponent(name).path) }

    func model(_ file: String) throws -> ExplainableModel {
        try ExplainableModel(graph: try ONNXImporter.load(path: dir.appendingPathComponent(file).path))
    }

    /// The issue's bars; returns whether they hold.
    @discardableResult
    func assertMap(_ got: Tensor, _ want: Tensor, identical: Bool, _ what: String, assert: Bool = true) -> Bool {
        guard got.shape == want.shape else {
            if assert { XCTFail("\(what): shape \(got.shape) vs \(want.shape)") }
            return false
        }
        let rel = relativeMaxError(got, want), corr = correlation(got, want), l2 = relativeL2(got, want)
        if assert { print(String(format: "  %@: max rel err %.2e, corr %.7f, rel L2 %.2e", what, rel, corr, l2)) }
        let ok = identical ? rel <= 1e-3 : (corr >= 0.999 && l2 <= 3e-2)
        if assert && !ok { XCTFail("\(what): max rel err \(rel), corr \(corr), rel L2 \(l2)") }
        return ok
    }

    func options(_ rec: [String: Any], batch: Int? = nil) -> Method.Options {
        var o = Method.Options(target: rec["target"] as? Int, layer: rec["layer_onnx_node"] as? String)
        if let batch {
            o.scoreCAM.batch = batch
            o.ablationCAM.batch = batch
        }
        return o
    }

    func testRawAndDisplayedMapsAgainstPytorchGradCAM() throws {
        let models = try XCTUnwrap(try camManifest()["models"] as? [String: [String: Any]])
        XCTAssertEqual(models.count, 4)
        var methodsSeen = Set<String>()
        for (name, m) in models.sorted(by: { $0.key < $1.key }) {
            print("\(name):")
            let em = try model(m["onnx"] as! String)
            let x = try loadHere(m["input"] as! String)
            for rec in try XCTUnwrap(m["maps"] as? [[String: Any]]) {
                let methodName = rec["method"] as! String
                let method = try XCTUnwrap(Method(rawValue: methodName), methodName)
                methodsSeen.insert(methodName)
                let what = "\(name) \(methodName) at \(rec["layer_module"]!) t\(rec["target"] as? Int ?? -1)"
                let e = try method.run(on: em, input: x, options: options(rec))
                XCTAssertEqual(e.layer, rec["layer_onnx_node"] as? String, what)
                if let t = rec["target"] as? Int { XCTAssertEqual(e.target, t, what) }
                let identical = rec["reference_on_identical_graph"] as? Bool ?? false
                assertMap(e.map, try loadHere(rec["raw"] as! String), identical: identical, "\(what) raw")
                if let shown = rec["displayed"] as? String {
                    let d = try CAMFamily.displayed(e.map, height: x.shape[2], width: x.shape[3])
                    assertMap(d, try loadHere(shown), identical: identical, "\(what) displayed")
                }
            }
        }
        XCTAssertEqual(methodsSeen, ["grad-cam++", "xgrad-cam", "hires-cam", "layer-cam", "score-cam", "ablation-cam", "eigen-cam"])
    }

    /// EigenCAM up to sign: Loupe's signed projection is pytorch-grad-cam's or its negation,
    /// and which one follows the documented rule (the projection correlates non-negatively
    /// with the centred channel sum).
    func testEigenCAMSignRule() throws {
        let models = try XCTUnwrap(try camManifest()["models"] as? [String: [String: Any]])
        var agreed = 0, differed = 0
        for (name, m) in models.sorted(by: { $0.key < $1.key }) {
            let em = try model(m["onnx"] as! String)
            let x = try loadHere(m["input"] as! String)
            for rec in (m["maps"] as! [[String: Any]]) where rec["method"] as? String == "eigen-cam" {
                let (_, tensor) = try em.resolveLayer(rec["layer_onnx_node"] as? String, for: x)
                let a = try em.forward(x, keep: [tensor]).values[tensor]!
                let k = a.shape[1], plane = a.shape[2] * a.shape[3]
                let item = Tensor(shape: Array(a.shape.dropFirst()), floats: Array(a.floats[0..<(k * plane)]))
                let p = try EigenCAM.projection(item)
                let pgc = try loadHere(rec["pgc_signed_projection"] as! String)
                let negated = try mapFloat(pgc) { -$0 }
                let same = assertMap(p, pgc, identical: true, "", assert: false)
                let opposite = assertMap(p, negated, identical: true, "", assert: false)
                XCTAssertTrue(same || opposite, "\(name): EigenCAM projection is neither pytorch-grad-cam's nor its negation")
                XCTAssertEqual(same, rec["pgc_sign_agrees"] as? Bool, "\(name): sign rule")
                if same { agreed += 1 } else { differed += 1 }
                // The rule itself: p · (centred channel sum) ≥ 0.
                var dot = 0.0
                for c in 0..<k {
                    let ch = item.floats[(c * plane)..<((c + 1) * plane)]
                    let mean = ch.reduce(0.0) { $0 + Double($1) } / Double(plane)
                    for (i, v) in ch.enumerated() { dot += Double(p.floats[i]) * (Double(v) - mean) }
                }
                XCTAssertGreaterThanOrEqual(dot, 0, "\(name): EigenCAM sign rule")
            }
        }
        // The fixtures hold both cases, so the test sees the rule flip NumPy's sign.
        XCTAssertGreaterThan(agreed, 0)
        XCTAssertGreaterThan(differed, 0)
    }

    /// Score-CAM and Ablation-CAM with several images per forward pass, on tiny-resnet
    /// exported with a dynamic batch axis, including Ablation-CAM inside a residual block
    /// (the skip connection goes around the ablated tensor, so the image is fed too).
    func testBatchedForwardPasses() throws {
        let models = try XCTUnwrap(try camManifest()["models"] as? [String: [String: Any]])
        let m = try XCTUnwrap(models["tiny-resnet"])
        let em = try model(try XCTUnwrap(m["dynamic_onnx"] as? String))
        let x = try loadHere(m["input"] as! String)
        var count = 0
        for rec in (m["maps"] as! [[String: Any]]) {
            guard let name = rec["method"] as? String, name == "score-cam" || name == "ablation-cam" else { continue }
            for batch in [5, 16] {
                let e = try Method(rawValue: name)!.run(on: em, input: x, options: options(rec, batch: batch))
                assertMap(e.map, try loadHere(rec["raw"] as! String), identical: true,
                          "tiny-resnet-dynamic \(name) at \(rec["layer_module"]!) t\(rec["target"]!) batch \(batch)")
                count += 1
            }
        }
        XCTAssertEqual(count, 12)
    }

    func testScoreCAMChannelLimitSaysHowLong() throws {
        let models = try XCTUnwrap(try camManifest()["models"] as? [String: [String: Any]])
        let m = try XCTUnwrap(models["squeezenet1_1"])
        let em = try model(m["onnx"] as! String)
        let x = try loadHere(m["input"] as! String)
        let rec = try XCTUnwrap((m["maps"] as? [[String: Any]])?.first { $0["method"] as? String == "score-cam" })
        var o = options(rec)
        o.scoreCAM.maxChannels = 100
        XCTAssertThrowsError(try Method.scoreCAM.run(on: em, input: x, options: o)) { e in
            let msg = "\(e)"
            XCTAssertTrue(msg.contains("512 channels"), msg)
            XCTAssertTrue(msg.contains("`maxChannels` (100)"), msg)
            XCTAssertTrue(msg.contains("would take about"), msg)
        }
    }
}
