import Foundation
import LoupeExplain
import LoupeFormats
import LoupeGraph
import LoupeTensor
import XCTest

/// Loupe's float32 explanation maps against the same maps computed by the naive float64
/// evaluation of the same graph (`Float64Evaluator`), and the PyTorch references against
/// it too. Where both float32 results (Loupe's, with whatever kernels OpenBLAS picked on this
/// CPU, and PyTorch's) lie within float rounding of the float64 map, a disagreement between
/// them is rounding; a float32 result far from it is a bug.
///
/// The fixture input is tie-free by construction (Scripts/fixtures/make-explain-fixtures.py checks
/// the margins that `Float64Evaluator.margins` measures here): no ReLU pre-activation and
/// no max-pool runner-up within 1e-5 of the decision, relative to the tensor's scale, so
/// no gradient hinges on the last bit.
final class Float64ReferenceTests: XCTestCase, ExplainFixtureSupport {

    /// Relative L2 distance allowed from the float64 map: float32 rounding measured 1e-7 to
    /// 1.3e-5 on these models with three OpenBLAS kernel families; a 1 % error is 100 times
    /// over.
    static let bar = 1e-4

    struct Maps {
        var saliency: Tensor
        var deconvnet: Tensor
        var guided: Tensor
        var gradCAM: Tensor?
    }

    /// The float64 maps for `target`: input gradients under the three ReLU rules, and
    /// Grad-CAM at `layerTensor` (the same formulas as Saliency, Deconvnet, GuidedBackprop
    /// and GradCAM, in double precision).
    func float64Maps(_ em: ExplainableModel, _ f64: Float64Evaluator, _ values: [String: Float64Tensor],
                     target: Int, layerTensor: String?) throws -> Maps {
        let logits = try XCTUnwrap(values[em.logitsName])
        var seed = Float64Tensor(zeros: logits.shape)
        seed.data[target] = 1
        func inputGradient(_ rule: ReluRule) throws -> Tensor {
            let g = try f64.backward(values: values, output: em.logitsName, seed: seed, rules: BackwardRules(relu: rule))
            let gx = try XCTUnwrap(g[em.inputName])
            return Tensor(shape: Array(gx.shape.dropFirst()), floats: gx.data.map { Float($0) })
        }
        var cam: Tensor?
        if let layerTensor {
            let g = try f64.backward(values: values, output: em.logitsName, seed: seed)
            let a = try XCTUnwrap(values[layerTensor]), ga = try XCTUnwrap(g[layerTensor])
            let (k, h, w) = (a.shape[1], a.shape[2], a.shape[3])
            var out = [Double](repeating: 0, count: h * w)
            for c in 0..<k {
                let alpha = ga.data[c * h * w..<(c + 1) * h * w].reduce(0, +) / Double(h * w)
                for i in 0..<(h * w) { out[i] += alpha * a.data[c * h * w + i] }
            }
            cam = Tensor(shape: [h, w], floats: out.map { Float(max($0, 0)) })
        }
        return Maps(saliency: try mapFloat(try inputGradient(.standard)) { abs($0) },
                    deconvnet: try inputGradient(.deconvnet), guided: try inputGradient(.guided), gradCAM: cam)
    }

    func testFloat32MapsLieWithinRoundingOfFloat64() throws {
        let m = try manifest()
        let models = try XCTUnwrap(m["models"] as? [String: [String: Any]])
        for (name, model) in models.sorted(by: { $0.key < $1.key }) {
            let graph = try ONNXImporter.load(path: explainFixtures.appendingPathComponent(model["onnx"] as! String).path)
            let em = try ExplainableModel(graph: graph)
            let x = try load(model["input"] as! String)
            let layer = (model["layer"] as? [String: Any])?["onnx_tensor"] as? String
            let f64 = try Float64Evaluator(graph: graph, inputShapes: [em.inputName: x.shape], keep: Set([layer].compactMap { $0 }))
            let values = try f64.forward([em.inputName: Float64Tensor(x)])
            let margins = try f64.margins(values)
            print(String(format: "%@: margins relu %.2e, max-pool %.2e, tied windows %d", name, margins.relu, margins.maxPool, margins.tiedWindows))
            XCTAssertEqual(margins.tiedWindows, 0, "\(name): the fixture input must not tie max-pool windows")

            for t in (model["targets"] as? [[String: Any]] ?? []).compactMap({ $0["class"] as? Int }) {
                let want = try float64Maps(em, f64, values, target: t, layerTensor: layer)
                let req = GradientRequest(target: t)
                let cases: [(String, Tensor, Tensor)] = [
                    ("saliency", try Saliency.explain(em, x, req).map, want.saliency),
                    ("deconvnet", try Deconvnet.explain(em, x, req).map, want.deconvnet),
                    ("guided-backprop", try GuidedBackprop.explain(em, x, req).map, want.guided),
                ]
                for (method, got, w) in cases {
                    let l2 = relativeL2(got, w)
                    var line = String(format: "  %@ t%d: Loupe f32 vs f64 rel L2 %.2e", method, t, l2)
                    let refFile = entries(model, method).first { $0.target == t }?.file
                    if let refFile {
                        let torch = try load(refFile)
                        let torchL2 = relativeL2(method == "saliency" ? try mapFloat(torch) { abs($0) } : torch, w)
                        line += String(format: ", PyTorch f32 vs f64 %.2e", torchL2)
                        XCTAssertLessThanOrEqual(torchL2, Self.bar, "\(name) \(method) t\(t): PyTorch float32 vs float64")
                    }
                    print(line)
                    XCTAssertLessThanOrEqual(l2, Self.bar, "\(name) \(method) t\(t): Loupe float32 vs float64")
                }
                if let cam = want.gradCAM, let layer = (model["layer"] as? [String: Any])?["onnx_node"] as? String {
                    let got = try GradCAM.explain(em, x, req, layer: layer).map
                    let l2 = relativeL2(got, cam)
                    print(String(format: "  grad-cam t%d: Loupe f32 vs f64 rel L2 %.2e", t, l2))
                    XCTAssertLessThanOrEqual(l2, Self.bar, "\(name) grad-cam t\(t): Loupe float32 vs float64")
                }
            }
        }
    }
}
