import LoupeFormats
import LoupeGraph
import XCTest

/// `Preprocessing.fitted(to:)`: the layout, channel count and size an image input gets from
/// the model's declared input.
final class PreprocessingInputTests: XCTestCase {
    func input(_ dims: [Dim]) -> ValueInfo { ValueInfo(name: "x", dtype: .float32, dims: dims) }

    func testLayoutAndSizeComeFromTheDeclaredShape() throws {
        let p = try Preprocessing.preset(named: "imagenet")
        let nchw = p.fitted(to: input([.fixed(1), .fixed(3), .fixed(96), .fixed(80)]))
        XCTAssertEqual(nchw.settings.layout, .nchw)
        XCTAssertEqual([nchw.height, nchw.width], [96, 80])
        let nhwc = p.fitted(to: input([.symbol("N"), .fixed(20), .fixed(24), .fixed(3)]))
        XCTAssertEqual(nhwc.settings.layout, .nhwc)
        XCTAssertEqual([nhwc.height, nhwc.width], [20, 24])
        XCTAssertEqual(p.fitted(to: input([.fixed(1), .fixed(20), .fixed(24), .fixed(3)]), layout: .nchw).settings.layout, .nchw)
    }

    func testOneChannelIsGrayscaleWithAveragedMeanAndStd() throws {
        var p = try Preprocessing.preset(named: "imagenet")
        p.mean = [0.3, 0.6, 0.9]
        p.std = [0.1, 0.2, 0.3]
        let g = p.fitted(to: input([.fixed(1), .fixed(1), .fixed(28), .fixed(28)]))
        XCTAssertTrue(g.settings.grayscale)
        XCTAssertEqual(g.settings.mean.count, 1)
        XCTAssertEqual(g.settings.mean[0], 0.6, accuracy: 1e-6)
        XCTAssertEqual(g.settings.std[0], 0.2, accuracy: 1e-6)
    }

    func testDynamicSizesTakeTheCropElse224() throws {
        var p = try Preprocessing.preset(named: "imagenet")
        p.centerCrop = Preprocessing.Size(height: 64, width: 48)
        let d = p.fitted(to: input([.symbol("N"), .fixed(3), .symbol("H"), .symbol("W")]))
        XCTAssertEqual([d.height, d.width], [64, 48])
        p.centerCrop = nil
        let e = p.fitted(to: input([.symbol("N"), .fixed(3), .symbol("H"), .symbol("W")]))
        XCTAssertEqual([e.height, e.width], [224, 224])
    }
}
