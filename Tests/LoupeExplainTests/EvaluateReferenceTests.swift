import Foundation
import LoupeExplain
import LoupeFormats
import LoupeGraph
import LoupeTensor
import LoupeTestSupport
import XCTest

/// The faithfulness metrics (Sources/LoupeExplain/Metrics, docs/evaluate.md) against Python
/// references on the shapes GAP model and fixed maps: deletion and insertion against RISE's
/// `CausalMetric` logic reimplemented in numpy/torch, ROAD and the confidence change from
/// pytorch-grad-cam's classes called directly (imputation noise 0). Fixtures:
/// Fixtures/evaluate, written by Scripts/fixtures/make-evaluate-fixtures.py.
final class EvaluateReferenceTests: XCTestCase {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/evaluate")
    static let shapes = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../SampleModels/shapes").standardizedFileURL

    func manifest() throws -> [String: Any] {
        let data = try Data(contentsOf: Self.folder.appendingPathComponent("manifest.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func load(_ name: String) throws -> Tensor { try NPY.read(path: Self.folder.appendingPathComponent(name).path) }

    func model() throws -> ExplainableModel {
        try ExplainableModel(graph: try ONNXImporter.load(path: Self.shapes.appendingPathComponent("shapes-gap.onnx").path))
    }

    func input(_ stem: String) throws -> Tensor {
        let x = try load("\(stem)-input.npy")
        return x.reshaped([1] + x.shape)
    }

    func testRISEKernelIsGkern() throws {
        let row = try XCTUnwrap(manifest()["gkern_row"] as? [Double])
        XCTAssertEqual(row.count, RISEBlur.taps.count)
        for (a, b) in zip(RISEBlur.taps, row) { XCTAssertEqual(a, b, accuracy: 1e-12) }
    }

    func testImputationAgreesWithSpsolve() throws {
        let x = try input("000-circle")
        let map = try AttributionMap(try load("000-circle-cam.npy"), kind: .classMap, height: 64, width: 64)
        var rng = SplitMix64(seed: 0)
        let keep = ROAD.keep(map.scaled, percentile: 50)
        XCTAssertEqual(keep.filter { !$0 }.count, 2048)
        let imputed = NoisyLinearImputer.impute(x.floats, channels: 3, height: 64, width: 64, keep: keep, noise: 0, rng: &rng)
        assertClose(imputed, try load("000-circle-imputed-morf50.npy").floats, 1e-5)
    }

    /// Every score of every metric within 1e-3, from the map torch upsampled (the same pixel
    /// order on both sides).
    func testMetricsAgreeWithReferencesOnTorchUpsampledMaps() throws {
        try compare(upsampledByTorch: true)
    }

    /// From the raw maps through Loupe's own upsampling: Loupe's bilinear agrees with torch's
    /// to float32 ulps (Resample2D.swift), not bit for bit, so near-tied pixels of the 8x8
    /// maps may change places between two deletion steps; the areas and every other metric
    /// stay within 1e-3, single curve points within 0.02.
    func testMetricsAgreeWithReferencesEndToEnd() throws {
        try compare(upsampledByTorch: false)
    }

    func compare(upsampledByTorch: Bool) throws {
        let m = try model()
        let doc = try manifest()
        let cases = try XCTUnwrap(doc["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 6)
        var settings = Evaluation.Settings()
        settings.road.noise = 0
        var worst = 0.0
        for c in cases {
            let stem = c["image"] as! String, kind = c["map"] as! String
            let x = try input(stem)
            let raw = try load("\(stem)-\(kind).npy")
            var map = try AttributionMap(raw, kind: kind == "cam" ? .classMap : .scoreDrop, height: 64, width: 64)
            if upsampledByTorch && kind == "cam" { map = AttributionMap(height: 64, width: 64, values: try load("\(stem)-cam-upsampled.npy").floats) }
            if !upsampledByTorch && kind == "cam" {
                let torch = try load("\(stem)-cam-upsampled.npy").floats
                for (a, b) in zip(map.values, torch) { XCTAssertEqual(a, b, accuracy: 1e-6 * max(1, abs(b))) }
            }
            let curveTolerance = upsampledByTorch || kind != "cam" ? 1e-3 : 2e-2
            let target = c["target"] as! Int
            let (logits, _) = try m.forward(x)
            XCTAssertEqual(logits.indices.max { logits[$0] < logits[$1] }, target)
            let b = c["box"] as! [Int]
            settings.step = c["step"] as! Int
            let r = try Evaluation.evaluate(m, input: x, map: map, target: target,
                                            box: PointingGame.Box(x0: b[0], y0: b[1], x1: b[2], y1: b[3]), settings: settings)
            func check(_ a: Double, _ key: String) {
                let e = c[key] as! Double
                worst = max(worst, abs(a - e))
                XCTAssertEqual(a, e, accuracy: 1e-3, "\(stem) \(kind) \(key)")
            }
            func checkCurve(_ a: [Double], _ key: String) {
                let e = c[key] as! [Double]
                XCTAssertEqual(a.count, e.count, "\(stem) \(kind) \(key) length")
                for (u, v) in zip(a, e) {
                    if key.hasPrefix("road") { worst = max(worst, abs(u - v)) }
                    XCTAssertEqual(u, v, accuracy: key.hasPrefix("road") ? 1e-3 : curveTolerance, "\(stem) \(kind) \(key)")
                }
            }
            let del = try XCTUnwrap(r.deletion), ins = try XCTUnwrap(r.insertion), road = try XCTUnwrap(r.road)
            let conf = try XCTUnwrap(r.confidence), point = try XCTUnwrap(r.pointing)
            checkCurve(del.scores, "deletion")
            checkCurve(ins.scores, "insertion")
            check(del.auc, "deletion_auc")
            check(ins.auc, "insertion_auc")
            checkCurve(road.mostRelevantFirst, "road_morf_curve")
            checkCurve(road.leastRelevantFirst, "road_lerf_curve")
            check(road.morf, "road_morf")
            check(road.lerf, "road_lerf")
            check(road.combined, "road_combined")
            check(conf.original, "original")
            check(conf.masked - conf.original, "change")
            check(conf.drop, "drop")
            check(conf.relativeDrop, "relative_drop")
            check(conf.increase, "increase")
            let peak = c["peak"] as! [Int]
            XCTAssertEqual([point.y, point.x], peak, "\(stem) \(kind) peak")
            XCTAssertEqual(point.hit, c["hit"] as! Bool, "\(stem) \(kind) hit")
        }
        print(String(format: "EvaluateReferenceTests (%@): largest difference of an area, ROAD or confidence score from the references %.3g", upsampledByTorch ? "torch-upsampled maps" : "end to end", worst))
    }
}
