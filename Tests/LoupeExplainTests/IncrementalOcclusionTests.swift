import Foundation
import LoupeExplain
import LoupeFormats
import LoupeGraph
import LoupeTensor
import LoupeTestSupport
import XCTest

/// Occlusion by incremental inference (Nakandala et al. 2019) against the plain method (whole
/// forward passes of every occluded image) and against Captum's `Occlusion` (the fixtures of
/// make-explain-fixtures.py): the shapes sample models, a small ResNet (residual additions,
/// strided 1×1 downsampling), SqueezeNet-1.1 (Concat of its fire modules, ceil-mode max pools)
/// and MobileNetV3-small (squeeze-and-excitation: a global pool multiplied back over space,
/// where the projective field becomes the whole tensor and the rest runs in full).
final class IncrementalOcclusionTests: XCTestCase, ExplainFixtureSupport {
    static let shapes = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../SampleModels/shapes").standardizedFileURL

    func settings(_ mode: Occlusion.Mode, window: Int = 16, stride: Int = 8) -> Occlusion.Settings {
        var s = Occlusion.Settings()
        s.window = (window, window)
        s.stride = (stride, stride)
        s.mode = mode
        return s
    }

    /// max |a − b| over the range of b.
    func byRange(_ a: Tensor, _ b: Tensor) -> Double {
        let r = Double(b.floats.max()! - b.floats.min()!)
        return zip(a.floats, b.floats).map { abs(Double($0) - Double($1)) }.max()! / max(r, 1e-30)
    }

    func shapesInput() throws -> Tensor {
        let image = try ImageIO.read(path: Self.shapes.appendingPathComponent("test/002-triangle.png").path)
        return try Preprocessing.none.tensor(from: image, height: 64, width: 64)
    }

    func testExactOnShapesModels() throws {
        let x = try shapesInput()
        for name in ["shapes-gap", "shapes-vgg"] {
            let m = try ExplainableModel(graph: try ONNXImporter.load(path: Self.shapes.appendingPathComponent("\(name).onnx").path))
            for (w, s) in [(8, 4), (16, 8), (5, 3)] {
                let plain = try Occlusion.explain(m, x, GradientRequest(), settings: settings(.plain, window: w, stride: s)).map
                let fast = try Occlusion.explain(m, x, GradientRequest(), settings: settings(.incremental, window: w, stride: s)).map
                XCTAssertLessThan(byRange(fast, plain), 1e-4, "\(name) window \(w) stride \(s)")
            }
        }
    }

    /// The convolutions of the shapes model are recomputed on regions: its projective field
    /// stays a region up to the global pool and is whole after it.
    func testProjectiveFieldOfShapesModel() throws {
        let m = try ExplainableModel(graph: try ONNXImporter.load(path: Self.shapes.appendingPathComponent("shapes-gap.onnx").path))
        let inference = try IncrementalInference(executor: m.executor, input: m.inputName, output: m.logitsName, image: try shapesInput())
        // An 8×8 window at (24, 32): conv 3×3 stride 2 pad 1 (64 → 32) reaches rows
        // ⌈(24 + 1 − 2)/2⌉ = 12 … ⌊(31 + 1)/2⌋ = 16, then a 3×3 stride-1 conv 11 … 17, a 2×2 max pool 5 … 8.
        let field = try inference.field(changes: [ProjectiveField.Region(y: 24...31, x: 32...39)])
        let node = { (op: String, k: Int) in m.graph.nodes.filter { $0.opType == op }[k].outputs[0] }
        // The first Relu's output is the convolution's once the plan fuses them.
        XCTAssertEqual(field.reach(of: node("Relu", 0)), .regions([ProjectiveField.Region(y: 12...16, x: 16...20)]))
        XCTAssertEqual(field.reach(of: node("MaxPool", 0)), .regions([ProjectiveField.Region(y: 5...8, x: 7...10)]))
        XCTAssertEqual(field.reach(of: m.logitsName), .whole)
    }

    /// Residual additions stay regions: the incremental plan keeps them as `Add` nodes (an
    /// inference plan would fuse each into its Conv, whose extra addend makes the reach whole).
    /// On the small ResNet (96×96 input) a 16×16 window still reaches only part of every
    /// residual sum but the last.
    func testResidualAddsStayRegions() throws {
        let models = try XCTUnwrap(try manifest()["models"] as? [String: [String: Any]])
        let model = try XCTUnwrap(models["tiny-resnet"])
        let m = try ExplainableModel(graph: try ONNXImporter.load(path: explainFixtures.appendingPathComponent(model["onnx"] as! String).path))
        let inference = try IncrementalInference(executor: m.executor, input: m.inputName, output: m.logitsName, image: try load(model["input"] as! String))
        let field = try inference.field(changes: [ProjectiveField.Region(y: 0...15, x: 0...15)])
        let adds = m.graph.nodes.filter { $0.opType == "Add" }.map { $0.outputs[0] }
        XCTAssertGreaterThanOrEqual(adds.count, 2, "the fixture has residual blocks")
        // The plan fuses the Relu after the sum into the Add: the tensor is the Relu's output.
        let sum = m.graph.nodes.first { $0.opType == "Relu" && $0.inputs.contains(adds[0]) }?.outputs[0] ?? adds[0]
        guard case .regions(let rs) = field.reach(of: sum), let r = rs.first ?? nil else {
            return XCTFail("the first residual sum is reached as \(field.reach(of: sum)), not as a region")
        }
        XCTAssertLessThan(r.height * r.width, 96 * 96 / 4, "the first residual sum's region \(r) is small")
    }

    /// Against the plain method and Captum on the fixture models, window 16 stride 8 on 96×96.
    func testExactOnFixtureModels() throws {
        let models = try XCTUnwrap(try manifest()["models"] as? [String: [String: Any]])
        for name in ["tiny-resnet", "squeezenet1_1", "mobilenet_v3_small"] {
            let model = try XCTUnwrap(models[name])
            let m = try ExplainableModel(graph: try ONNXImporter.load(path: explainFixtures.appendingPathComponent(model["onnx"] as! String).path))
            let x = try load(model["input"] as! String)
            for e in entries(model, "occlusion").prefix(1) {
                let plain = try Occlusion.explain(m, x, GradientRequest(target: e.target), settings: settings(.plain)).map
                let fast = try Occlusion.explain(m, x, GradientRequest(target: e.target), settings: settings(.incremental)).map
                XCTAssertLessThan(byRange(fast, plain), 1e-4, "\(name) t\(e.target!): incremental against plain")
                XCTAssertLessThan(byRange(fast, try load(e.file)), 1e-3, "\(name) t\(e.target!): incremental against Captum")
            }
        }
    }

    /// The approximation: τ = 1 without drill-down is exact; the default approximation stays
    /// close (correlation 0.896 measured on the small ResNet at 96×96: above 0.85).
    func testApproximation() throws {
        let model = try XCTUnwrap((try manifest()["models"] as? [String: [String: Any]])?["tiny-resnet"])
        let m = try ExplainableModel(graph: try ONNXImporter.load(path: explainFixtures.appendingPathComponent(model["onnx"] as! String).path))
        let x = try load(model["input"] as! String)
        let exact = try Occlusion.explain(m, x, GradientRequest(), settings: settings(.incremental)).map
        var s = settings(.incremental)
        s.approximation = Occlusion.Approximation()
        s.approximation!.threshold = 1
        s.approximation!.drillDownStride = 1
        XCTAssertLessThan(byRange(try Occlusion.explain(m, x, GradientRequest(), settings: s).map, exact), 1e-4)
        // Drill-down with every window chosen is exact too.
        s.approximation!.drillDownStride = 3
        s.approximation!.drillDownFraction = 1
        XCTAssertLessThan(byRange(try Occlusion.explain(m, x, GradientRequest(), settings: s).map, exact), 1e-4)
        s.approximation = Occlusion.Approximation()
        let approx = try Occlusion.explain(m, x, GradientRequest(), settings: s).map
        XCTAssertGreaterThan(correlation(approx, exact), 0.85)
    }

    /// A blurred baseline: the window is filled from the blurred image, as a tensor baseline
    /// holding that image does, in both modes.
    func testBlurBaseline() throws {
        let m = try ExplainableModel(graph: try ONNXImporter.load(path: Self.shapes.appendingPathComponent("shapes-vgg.onnx").path))
        let x = try shapesInput()
        let blurred = try GaussianBlur.apply(x, sigma: 3.2)
        var s = settings(.plain)
        s.replacement = .tensor(blurred, source: "test")
        let reference = try Occlusion.explain(m, x, GradientRequest(), settings: s).map
        for mode in Occlusion.Mode.allCases {
            var b = settings(mode)
            b.replacement = .blur(sigma: nil)   // 5 % of 64 pixels
            XCTAssertLessThan(byRange(try Occlusion.explain(m, x, GradientRequest(), settings: b).map, reference), 1e-4, "\(mode)")
        }
        // A constant tensor baseline is the constant baseline.
        var c = settings(.incremental)
        c.baseline = 0.5
        var t = settings(.incremental)
        t.replacement = .constant(0.5)
        XCTAssertEqual(try Occlusion.explain(m, x, GradientRequest(), settings: c).map.floats,
                       try Occlusion.explain(m, x, GradientRequest(), settings: t).map.floats)
    }
}
