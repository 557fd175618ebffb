import Foundation
import LoupeFormats
@testable import LoupeGraph
import LoupeTensor
import XCTest

/// The box of a unit (`ReceptiveField.field/box/centre(ofUnit:)`) against hand-computed
/// values for the layers of SampleModels/shapes/shapes-gap.onnx (64×64 input), clipping at
/// the borders, negative offsets and fractional strides.
final class ReceptiveFieldBoxTests: XCTestCase {
    static let root = ReceptiveFieldTests.root

    func field(_ a: ReceptiveFieldAnalysis, _ node: String) throws -> ReceptiveField {
        let n = try XCTUnwrap(a.graph.nodes.first { $0.name == node }, node)
        return try a.field(of: n.outputs[0])
    }

    /// shapes-gap by hand, first…last pixel of unit 0 and stride:
    /// /0/Conv 3×3/2 pads 1: −1…1, j 2; /3/Conv 3×3/1 pads 1: −1 − 2 … 1 + 2 = −3…3, j 2;
    /// /6/MaxPool 2×2/2: units 0…1 of /3 → −3…5, j 4; /7/Conv: units −1…1 of the pool →
    /// −7…9; /10/Conv: −11…13 (size 25, offset 1), j 4, map 16×16.
    func testShapesGapBoxesByHand() throws {
        let g = try ModelFile.load(path: Self.root.appendingPathComponent("SampleModels/shapes/shapes-gap.onnx").path)
        let a = try ReceptiveFieldAnalysis(graph: g, inputTypes: try ModelFile.inputTypes(g))
        XCTAssertEqual(a.inputSize, [64, 64])
        let input = [64, 64]

        let conv0 = try field(a, "/0/Conv")
        XCTAssertEqual(conv0.field(ofUnit: [0, 0]), [-1..<2, -1..<2])
        XCTAssertEqual(conv0.box(ofUnit: [0, 0], inputSize: input), [0..<2, 0..<2])
        XCTAssertEqual(conv0.box(ofUnit: [31, 31], inputSize: input), [61..<64, 61..<64])
        XCTAssertEqual(conv0.centre(ofUnit: [31, 0]), [62, 0])

        let relu5 = try field(a, "/5/Relu")
        XCTAssertEqual(relu5.field(ofUnit: [0, 5]), [-3..<4, 7..<14])
        XCTAssertEqual(relu5.box(ofUnit: [0, 5], inputSize: input), [0..<4, 7..<14])

        let pool = try field(a, "/6/MaxPool")
        XCTAssertEqual(pool.box(ofUnit: [15, 1], inputSize: input), [57..<64, 1..<10])
        XCTAssertEqual(pool.centre(ofUnit: [15, 1]), [61, 5])

        let last = try field(a, "/12/Relu")
        XCTAssertEqual(last.field(ofUnit: [0, 0]), [-11..<14, -11..<14])
        XCTAssertEqual(last.box(ofUnit: [0, 0], inputSize: input), [0..<14, 0..<14])
        XCTAssertEqual(last.box(ofUnit: [15, 15], inputSize: input), [49..<64, 49..<64])
        XCTAssertEqual(last.box(ofUnit: [7, 3], inputSize: input), [17..<42, 1..<26])
        XCTAssertEqual(last.centre(ofUnit: [7, 3]), [29, 13])

        // After the global pool: no finite field, no box.
        let gap = try field(a, "/13/GlobalAveragePool")
        XCTAssertNil(gap.field(ofUnit: [0, 0]))
        XCTAssertNil(gap.box(ofUnit: [0, 0], inputSize: input))
        XCTAssertNil(gap.centre(ofUnit: [0, 0]))
        // Which axes of the map run along H and W.
        XCTAssertEqual(try a.unitAxes(of: "/12/Relu_output_0"), [2, 3])
        XCTAssertEqual(try a.unitAxes(of: "/13/GlobalAveragePool_output_0"), [nil, nil])
    }

    func testNegativeOffsetsFractionalStridesAndFieldsOutsideTheInput() {
        // Unit 0: −5…2 (offset −1.5), stride 3; along x: 0…1, stride 0.5 (an upsampling).
        let f = ReceptiveField(axes: [.init(first: -5, last: 2, stride: 3), .init(first: 0, last: 1, stride: 0.5)], uniform: true)
        XCTAssertEqual(f.centre(ofUnit: [0, 0]), [-1.5, 0.5])
        XCTAssertEqual(f.field(ofUnit: [0, 0]), [-5..<3, 0..<2])
        XCTAssertEqual(f.box(ofUnit: [0, 0], inputSize: [8, 8]), [0..<3, 0..<2])
        // y: 1…8 → [1, 9), clipped to 8; x: 1.5…2.5 → pixels 1…3.
        XCTAssertEqual(f.field(ofUnit: [2, 3]), [1..<9, 1..<4])
        XCTAssertEqual(f.box(ofUnit: [2, 3], inputSize: [8, 8]), [1..<8, 1..<4])
        XCTAssertEqual(f.centre(ofUnit: [2, 3]), [4.5, 2])
        // Fields wholly past either border: empty at that border.
        let outside = ReceptiveField(axes: [.init(first: 10, last: 12, stride: 1), .init(first: -10, last: -8, stride: 1)], uniform: true)
        XCTAssertEqual(outside.box(ofUnit: [0, 0], inputSize: [8, 8]), [8..<8, 0..<0])
        // Wrong rank: nil.
        XCTAssertNil(f.field(ofUnit: [0]))
    }
}
