import Foundation
import LoupeExplain
import LoupeFormats
import LoupeGraph
import LoupeTensor
import XCTest

/// Every explanation method against PyTorch with Captum and pytorch-grad-cam, on ONNX
/// exports of torchvision and small custom CNNs (Fixtures/, made by
/// Scripts/fixtures/make-explain-fixtures.py; Fixtures/PROVENANCE.md says how).
///
/// Tolerances (the issue's): maps computed at a layer or by forward passes (CAM, Grad-CAM,
/// activations) within 1e-4 relative to the reference's largest magnitude, occlusion within
/// 1e-4 of the reference's range; input-gradient maps (saliency, deconvnet, guided backprop,
/// guided Grad-CAM) within 1e-4 where the reference ran on the identical graph, else
/// correlation ≥ 0.9999 and relative L2 error ≤ 1e-3 (a 1 % error fails). The fixture input
/// is tie-free (Float64ReferenceTests checks it), so these bars hold whichever BLAS kernels
/// run; measured relative L2 is at most 1.3e-5.
final class ReferenceTests: XCTestCase, ExplainFixtureSupport {
    func assertInputGradient(_ got: Tensor, _ want: Tensor, identical: Bool, _ what: String) {
        XCTAssertEqual(got.shape, want.shape, what)
        guard got.shape == want.shape else { return }
        let rel = relativeMaxError(got, want), corr = correlation(got, want), l2 = relativeL2(got, want)
        print(String(format: "  %@: max rel err %.2e, corr %.7f, rel L2 %.2e", what, rel, corr, l2))
        if identical && rel <= 1e-4 { return }
        XCTAssertGreaterThanOrEqual(corr, 0.9999, "\(what): correlation (max rel err \(rel))")
        XCTAssertLessThanOrEqual(l2, 1e-3, "\(what): relative L2")
    }

    func assertLayerMap(_ got: Tensor, _ want: Tensor, _ what: String, byRange: Bool = false) {
        XCTAssertEqual(got.shape, want.shape, what)
        guard got.shape == want.shape else { return }
        let err = zip(got.floats, want.floats).reduce(0) { max($0, abs(Double($1.0) - Double($1.1))) }
        let lo = want.floats.min().map(Double.init) ?? 0, hi = want.floats.max().map(Double.init) ?? 0
        let scale = byRange ? hi - lo : max(abs(lo), abs(hi))
        print(String(format: "  %@: max err %.2e of %@ %.3e", what, err, byRange ? "range" : "max", scale))
        XCTAssertLessThanOrEqual(err, 1e-4 * max(scale, 1e-12), what)
    }

    func testAllMethodsAgainstReferences() throws {
        let m = try manifest()
        let models = try XCTUnwrap(m["models"] as? [String: [String: Any]])
        XCTAssertGreaterThanOrEqual(models.count, 3)
        for (name, model) in models.sorted(by: { $0.key < $1.key }) {
            print("\(name):")
            let graph = try ONNXImporter.load(path: explainFixtures.appendingPathComponent(model["onnx"] as! String).path)
            let em = try ExplainableModel(graph: graph)
            let x = try load(model["input"] as! String)

            let (logits, _) = try em.forward(x)
            let ort = try load(model["logits_ort"] as! String)
            assertLayerMap(Tensor(shape: ort.shape, floats: logits), ort, "\(name) logits vs onnxruntime")

            for e in entries(model, "saliency") {
                let got = try Saliency.explain(em, x, GradientRequest(target: e.target)).map
                assertInputGradient(got, try load(e.file), identical: e.identical, "\(name) saliency t\(e.target!)")
            }
            for e in entries(model, "deconvnet") {
                let got = try Deconvnet.explain(em, x, GradientRequest(target: e.target)).map
                assertInputGradient(got, try load(e.file), identical: e.identical, "\(name) deconvnet t\(e.target!)")
            }
            for e in entries(model, "guided-backprop") {
                let got = try GuidedBackprop.explain(em, x, GradientRequest(target: e.target)).map
                assertInputGradient(got, try load(e.file), identical: e.identical, "\(name) guided-backprop t\(e.target!)")
            }
            for e in entries(model, "guided-gradcam-bilinear") {
                let got = try GuidedGradCAM.explain(em, x, GradientRequest(target: e.target), layer: e.layerNode).map
                assertInputGradient(got, try load(e.file), identical: e.identical, "\(name) guided-grad-cam t\(e.target!)")
            }
            for e in entries(model, "gradcam-raw") {
                let got = try GradCAM.explain(em, x, GradientRequest(target: e.target), layer: e.layerNode).map
                assertLayerMap(got, try load(e.file), "\(name) grad-cam t\(e.target!) at \(e.layerNode ?? "?")")
            }
            for e in entries(model, "cam") {
                let got = try CAM.explain(em, x, GradientRequest(target: e.target)).map
                // The reference has no ReLU; Loupe's CAM contract is after the ReLU.
                let want = try mapFloat(try load(e.file)) { max($0, 0) }
                assertLayerMap(got, want, "\(name) cam t\(e.target!)")
            }
            for e in entries(model, "occlusion") {
                var s = Occlusion.Settings()
                s.window = (16, 16)
                s.stride = (8, 8)
                s.baseline = 0
                let got = try Occlusion.explain(em, x, GradientRequest(target: e.target), settings: s).map
                assertLayerMap(got, try load(e.file), "\(name) occlusion t\(e.target!)", byRange: true)
            }
            for e in entries(model, "activations") {
                let got = try ActivationMaps.explain(em, x, layer: e.layerNode).map
                assertLayerMap(got, try load(e.file), "\(name) activations at \(e.layerNode ?? "?")")
            }
        }
    }

    func testUnknownLayerListsValidNames() throws {
        let model = try XCTUnwrap((try manifest()["models"] as? [String: [String: Any]])?["tiny-vgg"])
        let em = try ExplainableModel(graph: try ONNXImporter.load(path: explainFixtures.appendingPathComponent(model["onnx"] as! String).path))
        let x = try load(model["input"] as! String)
        XCTAssertThrowsError(try GradCAM.explain(em, x, GradientRequest(), layer: "no-such-layer")) { e in
            let msg = "\(e)"
            XCTAssertTrue(msg.contains("no layer named 'no-such-layer'"), msg)
            XCTAssertTrue(msg.contains("Conv") || msg.contains("Relu"), msg)
        }
        XCTAssertThrowsError(try Saliency.explain(em, x, GradientRequest(target: 100_000))) { e in
            XCTAssertTrue("\(e)".contains("classes"), "\(e)")
        }
        // tiny-vgg ends in Flatten and two linear layers: CAM must point to the surgery command.
        XCTAssertThrowsError(try CAM.explain(em, x, GradientRequest())) { e in
            XCTAssertTrue("\(e)".contains("loupe surgery cam"), "\(e)")
        }
    }
}
