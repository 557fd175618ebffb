import Foundation
import LoupeFormats
import LoupeTensor
import XCTest

/// The explanation fixtures (Fixtures/, written by Scripts/fixtures/make-explain-fixtures.py) and the
/// distances the reference tests measure.
let explainFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

/// One reference map in the manifest.
struct FixtureEntry {
    var file: String
    var target: Int?
    var identical: Bool
    var layerNode: String?
}

protocol ExplainFixtureSupport {}

extension ExplainFixtureSupport {

    func manifest() throws -> [String: Any] {
        let data = try Data(contentsOf: explainFixtures.appendingPathComponent("manifest.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func entries(_ model: [String: Any], _ method: String) -> [FixtureEntry] {
        let methods = model["methods"] as? [String: Any] ?? [:]
        return (methods[method] as? [[String: Any]] ?? []).map {
            FixtureEntry(file: $0["file"] as! String, target: $0["target"] as? Int,
                  identical: $0["reference_on_identical_graph"] as? Bool ?? false,
                  layerNode: $0["layer_onnx_node"] as? String)
        }
    }

    func load(_ name: String) throws -> Tensor { try NPY.read(path: explainFixtures.appendingPathComponent(name).path) }

    /// max |a − b| / max |b|.
    func relativeMaxError(_ a: Tensor, _ b: Tensor) -> Double {
        let scale = b.floats.reduce(0) { max($0, abs(Double($1))) }
        let err = zip(a.floats, b.floats).reduce(0) { max($0, abs(Double($1.0) - Double($1.1))) }
        return scale > 0 ? err / scale : err
    }

    func correlation(_ a: Tensor, _ b: Tensor) -> Double {
        let n = Double(a.count)
        let ma = a.floats.reduce(0) { $0 + Double($1) } / n, mb = b.floats.reduce(0) { $0 + Double($1) } / n
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for (x, y) in zip(a.floats, b.floats) {
            sab += (Double(x) - ma) * (Double(y) - mb)
            saa += (Double(x) - ma) * (Double(x) - ma)
            sbb += (Double(y) - mb) * (Double(y) - mb)
        }
        return sab / max((saa * sbb).squareRoot(), 1e-30)
    }

    func relativeL2(_ a: Tensor, _ b: Tensor) -> Double {
        let d = zip(a.floats, b.floats).reduce(0) { $0 + pow(Double($1.0) - Double($1.1), 2) }
        let n = b.floats.reduce(0) { $0 + pow(Double($1), 2) }
        return (d / max(n, 1e-30)).squareRoot()
    }

}
