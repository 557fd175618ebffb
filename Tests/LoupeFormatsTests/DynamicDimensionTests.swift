import Foundation
import LoupeGraph
import LoupeTensor
import XCTest
@testable import LoupeFormats

/// Value infos that mark sizes as dynamic (issue #13), on the variants of the tiny-cnn sample
/// model in Tests/loupeTests/Fixtures/dynamic (Scripts/fixtures/make-dynamic-fixtures.py).
final class DynamicDimensionTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let dynamic = root.appendingPathComponent("Tests/loupeTests/Fixtures/dynamic")
    static func load(_ name: String) throws -> Graph { try ONNXImporter.load(path: dynamic.appendingPathComponent(name).path) }

    func testMinusOneAndZeroReadAsDynamic() throws {
        let original = try ONNXImporter.load(path: Self.root.appendingPathComponent("SampleModels/tiny-cnn/tiny-cnn.onnx").path)
        for name in ["neg1.onnx", "zero.onnx"] {
            let g = try Self.load(name)
            XCTAssertEqual(g.inputs.map(\.name), ["input"], name)
            XCTAssertEqual(g.inputs[0].dims, [.symbol(""), .fixed(3), .fixed(64), .fixed(64)], name)
            XCTAssertEqual(g.outputs[0].dims, [.symbol(""), .fixed(5)], name)
            XCTAssertEqual(g.nodes.map(\.opType), original.nodes.map(\.opType), name)
            XCTAssertEqual(g.initializers.keys.sorted(), original.initializers.keys.sorted(), name)
            for (k, t) in original.initializers { XCTAssertEqual(g.initializers[k]?.floats, t.floats, "\(name) \(k)") }
            // Only the batch is dynamic: nothing a summary needs is left open.
            XCTAssertEqual(g.dynamicDimensions(), [], name)
        }
        let spatial = try Self.load("neg1-spatial.onnx")
        XCTAssertEqual(spatial.inputs[0].dims, [.symbol(""), .fixed(3), .symbol(""), .symbol("")])
        XCTAssertEqual(spatial.dynamicDimensions(), [DynamicDimension(input: "input", axis: 2, symbol: ""),
                                                     DynamicDimension(input: "input", axis: 3, symbol: "")])
        let nhw = try Self.load("nhw.onnx")
        XCTAssertEqual(nhw.inputs[0].dims, [.symbol("N"), .fixed(3), .symbol("H"), .symbol("W")])
        XCTAssertEqual(nhw.dynamicDimensions().map(\.symbol), ["H", "W"])
        XCTAssertEqual(nhw.dynamicDimensions(except: ["input"]), [])
        XCTAssertEqual(nhw.describe(nhw.dynamicDimensions()), "input 'input' [N, 3, H, W] has dynamic H (axis 2) and W (axis 3)")
    }

    func testOtherNegativeSizesAreRefused() throws {
        XCTAssertThrowsError(try Self.load("neg2.onnx")) { e in
            XCTAssertEqual((e as? LoupeError)?.message, "neg2.onnx: value 'input' declares dimension 0 as -2; a size is non-negative, or -1 for a dynamic one")
        }
    }

    func testZeroInATensorStaysAnEmptySize() throws {
        let t = try ONNXImporter.loadTensor(path: Self.dynamic.appendingPathComponent("empty.pb").path)
        XCTAssertEqual(t.shape, [0, 3])
        XCTAssertEqual(t.count, 0)
    }

    func testDynamicSummaryKeepsWhatDoesNotDependOnTheSizes() throws {
        let g = try Self.load("nhw.onnx")
        let s = try DynamicGraphSummary(graph: g, inputTypes: try ModelFile.inputTypes(g), dynamic: g.dynamicDimensions())
        XCTAssertEqual(s.inputs[0].dims, [.fixed(1), .fixed(3), .symbol("H"), .symbol("W")])
        XCTAssertEqual(s.outputs[0].dims, [.fixed(1), .fixed(5)])
        let rows = Dictionary(uniqueKeysWithValues: s.nodes.map { ($0.name, $0) })
        XCTAssertEqual(rows["/0/Conv"]?.outputDims, [[.fixed(1), .fixed(16), .symbol("H"), .symbol("W")]])
        XCTAssertEqual(rows["/8/Conv"]?.outputDims, [[.fixed(1), .fixed(64), .symbol(""), .symbol("")]])
        XCTAssertEqual(rows["/11/Flatten"]?.outputDims, [[.fixed(1), .fixed(64)]])
        XCTAssertNil(rows["/0/Conv"]!.macs)
        XCTAssertEqual(rows["/12/Gemm"]?.macs, 320)
        XCTAssertEqual(rows["/2/Relu"]?.macs, 0)
        XCTAssertNil(s.macs)
        XCTAssertEqual(s.parameters, 23_909)

        // With the sizes given, the same rows as the static model's summary.
        let fixed = try GraphSummary(graph: g, inputTypes: try ModelFile.inputTypes(g, overrides: ["input": [1, 3, 64, 64]]))
        let original = try ONNXImporter.load(path: Self.root.appendingPathComponent("SampleModels/tiny-cnn/tiny-cnn.onnx").path)
        let want = try GraphSummary(graph: original, inputTypes: try ModelFile.inputTypes(original))
        XCTAssertEqual(fixed.nodes.map(\.macs), want.nodes.map(\.macs))
        XCTAssertEqual(fixed.nodes.map(\.outputTypes), want.nodes.map(\.outputTypes))
        XCTAssertEqual(fixed.macs, 11_206_976)
    }

    func testDynamicSummaryNamesTheSizesWhenTheShapesNeedThem() throws {
        let g = try Self.load("flatten-head.onnx")
        XCTAssertThrowsError(try DynamicGraphSummary(graph: g, inputTypes: try ModelFile.inputTypes(g), dynamic: g.dynamicDimensions())) { e in
            let m = (e as? LoupeError)?.message ?? "\(e)"
            XCTAssertTrue(m.hasPrefix("input 'x' [N, 3, H, W] has dynamic H (axis 2) and W (axis 3), and its shapes cannot be worked out without the real sizes (tried H = 224, W = 256: node 'fc' (Gemm)"), m)
        }
    }
}
