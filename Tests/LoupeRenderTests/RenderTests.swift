import Foundation
import LoupeFormats
import LoupeRender
import LoupeTensor
import LoupeTestSupport
import XCTest

private let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()


final class ColormapTests: XCTestCase {
    /// matplotlib's own `cmap(v)`, written by Scripts/fixtures/make-colormaps.py.
    func testSamplesMatchMatplotlib() throws {
        struct Sample: Decodable { let v: Double; let rgb: [Double] }
        struct Fixture: Decodable { let maps: [String: [Sample]] }
        let data = try Data(contentsOf: here.appendingPathComponent("Fixtures/colormap-samples.json"))
        let fixture = try JSONDecoder().decode(Fixture.self, from: data)
        XCTAssertEqual(Set(fixture.maps.keys), Set(Colormap.names))
        for (name, samples) in fixture.maps {
            let cmap = try Colormap.named(name)
            XCTAssertEqual(samples.count, 14)
            for s in samples {
                let (r, g, b) = cmap.map(Float(s.v))
                XCTAssertEqual([r, g, b], s.rgb.map { Float($0) }, "\(name)(\(s.v))")
            }
        }
    }

    func testEndpointsAndIndexRule() throws {
        // jet runs from dark blue (0, 0, 0.5) to dark red (0.5, 0, 0); gray entry i is i / 255.
        XCTAssertTrue(Colormap.jet.map(0) == (0, 0, 0.5))
        XCTAssertTrue(Colormap.jet.map(1) == (0.5, 0, 0))
        XCTAssertTrue(Colormap.gray.map(0.5) == (128 / 255, 128 / 255, 128 / 255))    // Int(0.5 * 256) = 128
        XCTAssertEqual(Colormap.gray.map(0.7).0, Float(179) / 255)                      // Int(179.2) = 179
        XCTAssertEqual(Colormap.index(1), 255)
        XCTAssertEqual(Colormap.index(-0.1), 0)
        XCTAssertEqual(Colormap.index(7), 255)
        XCTAssertNil(Colormap.index(.nan))
        XCTAssertTrue(Colormap.viridis.map(.nan) == (0, 0, 0))
        XCTAssertEqual(Colormap.rdBuR.rgb.count, 768)
    }

    func testUnknownNameListsValidOnes() {
        XCTAssertThrowsError(try Colormap.named("hot")) { e in
            let m = "\(e)"
            for n in ["jet", "viridis", "inferno", "gray", "RdBu_r"] { XCTAssertTrue(m.contains(n), m) }
        }
    }
}

final class ScalingTests: XCTestCase {
    // |v| = [3, 1, 2, 0, 4], sorted [0, 1, 2, 3, 4]; numpy's 99th percentile: rank 0.99 * 4 = 3.96,
    // 3 + 0.96 * (4 - 3) = 3.96.
    let v = Tensor(shape: [1, 5], floats: [-3, 1, 2, 0, 4])

    func testPercentileLikeNumpy() throws {
        XCTAssertEqual(try Scaling.percentile([3, 1, 2, 0, 4], 99)!, 3.96, accuracy: 1e-6)
        XCTAssertEqual(try Scaling.percentile([3, 1, 2, 0, 4], 50), 2)
        XCTAssertEqual(try Scaling.percentile([3, 1, 2, 0, 4], 25), 1)
        XCTAssertEqual(try Scaling.percentile([3, 1, 2, 0, 4], 100), 4)
        XCTAssertEqual(try Scaling.percentile([5, .nan], 99), 5)
        XCTAssertNil(try Scaling.percentile([], 50))
        XCTAssertThrowsError(try Scaling.percentile([1], 101))
    }

    func testClipAbsPercentile() throws {
        let out = try Scaling.clipAbsPercentile(v)
        XCTAssertEqual(out.shape, [1, 5])
        assertClose(out.floats, [3 / 3.96, 1 / 3.96, 2 / 3.96, 0, 1], 1e-6)
        // 99% zeros: the percentile is 0, the maximum is used instead.
        var sparse = [Float](repeating: 0, count: 200); sparse[7] = -2
        XCTAssertEqual(try Scaling.clipAbsPercentile(Tensor(shape: [200], floats: sparse)).floats[7], 1)
        XCTAssertEqual(try Scaling.clipAbsPercentile(Tensor(shape: [3], floats: [0, 0, 0])).floats, [0, 0, 0])
    }

    func testSymmetric() throws {
        let out = try Scaling.symmetric(v)
        assertClose(out.floats, [0.5 - 1.5 / 3.96, 0.5 + 0.5 / 3.96, 0.5 + 1 / 3.96, 0.5, 1], 1e-6)
        XCTAssertEqual(try Scaling.symmetric(Tensor(shape: [2], floats: [0, 0])).floats, [0.5, 0.5])
    }

    func testMinMax() throws {
        XCTAssertEqual(try Scaling.normalizeMinMax(Tensor(shape: [3], floats: [2, 4, 6])).floats, [0, 0.5, 1])
        XCTAssertEqual(try Scaling.normalizeMinMax(Tensor(shape: [2], floats: [3, 3])).floats, [0, 0])
        let withNaN = try Scaling.normalizeMinMax(Tensor(shape: [3], floats: [1, .nan, 3])).floats
        XCTAssertEqual(withNaN[0], 0); XCTAssertTrue(withNaN[1].isNaN); XCTAssertEqual(withNaN[2], 1)
        XCTAssertThrowsError(try Scaling.normalizeMinMax(Tensor(shape: [1], ints: [1])))
    }

    func testDeprocessImage() throws {
        // [1, 3]: mean 2, population std 1.
        let a = try Scaling.deprocessImage(Tensor(shape: [1, 1, 2], floats: [1, 3]))
        assertClose(a.floats, [0.5 - 0.1 / 1.00001, 0.5 + 0.1 / 1.00001], 1e-6)
        // 99 zeros and a 1: mean 0.01, std sqrt(0.01 * 0.99); the 1 is 9.95 std away: clipped to 1.
        var x = [Float](repeating: 0, count: 100); x[42] = 1
        let b = try Scaling.deprocessImage(Tensor(shape: [1, 10, 10], floats: x))
        let std = (0.01 * 0.99).squareRoot()
        XCTAssertEqual(b.floats[0], Float(0.5 - 0.1 * 0.01 / (std + 1e-5)), accuracy: 1e-6)
        XCTAssertEqual(b.floats[42], 1)
    }
}

final class ResampleTests: XCTestCase {
    /// Half-pixel bilinear, 2 → 4 along an axis: sources -0.25 (→ 0), 0.25, 0.75, 1.25 (→ last),
    /// so [a, b] → [a, 0.75a + 0.25b, 0.25a + 0.75b, b]. torch F.interpolate(bilinear,
    /// align_corners=False) gives the same numbers.
    func testBilinear2x2To4x4() throws {
        let x = Tensor(shape: [2, 2], floats: [0, 4, 8, 12])
        let y = try Resample.bilinear(x, height: 4, width: 4)
        XCTAssertEqual(y.shape, [4, 4])
        XCTAssertEqual(y.floats, [0, 1, 3, 4,
                                  2, 3, 5, 6,
                                  6, 7, 9, 10,
                                  8, 9, 11, 12])
    }

    func testBilinearShrinkAndPlanes() throws {
        // 3 → 2: sources 0.25 and 1.75: [0.75a + 0.25b, 0.25b + 0.75c].
        let y = try Resample.bilinear(Tensor(shape: [2, 1, 3], floats: [0, 4, 8, 1, 1, 1]), height: 1, width: 2)
        XCTAssertEqual(y.shape, [2, 1, 2])
        XCTAssertEqual(y.floats, [1, 7, 1, 1])
    }

    func testNearestHalfPixel() throws {
        let up = try Resample.nearest(Tensor(shape: [2, 2], floats: [0, 4, 8, 12]), height: 4, width: 4)
        XCTAssertEqual(up.floats, [0, 0, 4, 4, 0, 0, 4, 4, 8, 8, 12, 12, 8, 8, 12, 12])
        // 3 → 2: floor(0.5 * 1.5) = 0, floor(1.5 * 1.5) = 2 (torch "nearest-exact"; plain "nearest" gives 0, 1).
        XCTAssertEqual(try Resample.nearest(Tensor(shape: [1, 3], floats: [1, 2, 3]), height: 1, width: 2).floats, [1, 3])
    }

    func testImageResizeKeepsChannels() throws {
        let img = try RGBImage(width: 2, height: 1, channels: 3, pixels: [0, 0, 0, 1, 0.5, 0.25])
        let big = try Resample.resize(img, width: 4, height: 2)
        XCTAssertEqual(big.channels, 3)
        // Column 1 is 0.75 * pixel 0 + 0.25 * pixel 1, in every row.
        assertClose(Array(big.pixels[3..<6]), [0.25, 0.125, 0.0625], 1e-6)
        assertClose(Array(big.pixels[15..<18]), [0.25, 0.125, 0.0625], 1e-6)
        XCTAssertThrowsError(try Resample.resize(img, width: 0, height: 2))
        XCTAssertThrowsError(try Resample.bilinear(Tensor(shape: [3], floats: [1, 2, 3]), height: 2, width: 2))
    }
}

final class OverlayTests: XCTestCase {
    let image = try! RGBImage(width: 2, height: 1, channels: 3, pixels: [0.2, 0.4, 0.6, 1, 1, 1])

    func testBlend() throws {
        // gray(0) = 0, jet(1) = (0.5, 0, 0).
        let g = try Overlay.blend(Tensor(shape: [1, 2], floats: [0, 1]), over: image, colormap: .gray, alpha: 0.25)
        assertClose(g.pixels, [0.15, 0.3, 0.45, 1, 1, 1], 1e-6)
        let j = try Overlay.blend(Tensor(shape: [1, 1, 1, 2], floats: [0, 1]), over: image, colormap: .jet, alpha: 0.25)
        assertClose(Array(j.pixels[3..<6]), [0.875, 0.75, 0.75], 1e-6)
        XCTAssertThrowsError(try Overlay.blend(Tensor(shape: [1, 2], floats: [0, 1]), over: image, alpha: 2))
    }

    func testBlendResizesMapAndExpandsGray() throws {
        let grayImage = try RGBImage(width: 2, height: 2, channels: 1, pixels: [0, 0.5, 1, 0.5])
        let out = try Overlay.blend(Tensor(shape: [1, 1], floats: [1]), over: grayImage, colormap: .gray, alpha: 0.5)
        XCTAssertEqual(out.channels, 3)
        assertClose(out.pixels, [0.5, 0.5, 0.5, 0.75, 0.75, 0.75, 1, 1, 1, 0.75, 0.75, 0.75], 1e-6)
    }

    func testThresholded() throws {
        let out = try Overlay.thresholded(Tensor(shape: [1, 2], floats: [0.3, 0.7]), over: image,
                                          colormap: .gray, threshold: 0.5)
        let g = Float(179) / 255   // gray(0.7) is entry Int(0.7 * 256) = 179
        assertClose(out.pixels, [0.2, 0.4, 0.6, g, g, g], 1e-6)
    }

    func testHeatmapAndCHW() throws {
        let h = try Overlay.heatmap(Tensor(shape: [1, 2], floats: [0, 1]), colormap: .jet)
        XCTAssertEqual([h.width, h.height, h.channels], [2, 1, 3])
        XCTAssertEqual(h.pixels, [0, 0, 0.5, 0.5, 0, 0])
        // [C=3, H=1, W=2] planes → interleaved HWC; values clamped.
        let img = try RGBImage(chw: Tensor(shape: [3, 1, 2], floats: [0.1, 0.2, 0.3, 0.4, 2, -1]))
        XCTAssertEqual(img.pixels, [0.1, 0.3, 1, 0.2, 0.4, 0])
        XCTAssertThrowsError(try RGBImage(chw: Tensor(shape: [2, 1, 2], floats: [0, 0, 0, 0])))
    }
}

final class TextAndPanelTests: XCTestCase {
    func nonWhite(_ img: RGBImage) -> Int {
        stride(from: 0, to: img.pixels.count, by: 3).filter { img.pixels[$0] != 1 || img.pixels[$0 + 1] != 1 || img.pixels[$0 + 2] != 1 }.count
    }

    func testDrawText() throws {
        var img = try RGBImage(width: 20, height: 20, fill: (1, 1, 1))
        // "A" is .###. / #...# / #...# / ##### / #...# / #...# / #...#: 3 + 2 + 2 + 5 + 2 + 2 + 2 = 18 pixels.
        BitmapFont.drawText("A", into: &img, x: 2, y: 2, color: (1, 0, 0))
        XCTAssertEqual(nonWhite(img), 18)
        XCTAssertTrue(img[2, 3, 0] == 1 && img[2, 3, 1] == 0)   // top bar of the A starts at column x + 1
        var big = try RGBImage(width: 20, height: 20, fill: (1, 1, 1))
        BitmapFont.drawText("A", into: &big, x: 2, y: 2, scale: 2)
        XCTAssertEqual(nonWhite(big), 72)
        var clipped = try RGBImage(width: 4, height: 4, fill: (1, 1, 1))
        BitmapFont.drawText("W~é", into: &clipped, x: -1, y: -2, scale: 3)   // must not trap
        XCTAssertGreaterThan(nonWhite(clipped), 0)
    }

    func testTextMeasure() {
        XCTAssertEqual(BitmapFont.textWidth("abc"), 17)
        XCTAssertEqual(BitmapFont.textWidth("abc", scale: 2), 34)
        XCTAssertEqual(BitmapFont.textWidth(""), 0)
        XCTAssertEqual(BitmapFont.textWidth("a\nlonger"), 35)
        XCTAssertEqual(BitmapFont.textHeight("a\nb"), 20)
        XCTAssertEqual(BitmapFont.textHeight("x", scale: 2), 18)
    }

    func testGlyphsAreDistinct() {
        let chars = (32...126).map { Character(UnicodeScalar(UInt8($0))) }
        XCTAssertEqual(Set(chars.map { BitmapFont.bits($0) }).count, 95)
        for ch in chars where ch != " " { XCTAssertTrue(BitmapFont.bits(ch).contains { $0 != 0 }, "\(ch)") }
        XCTAssertEqual(BitmapFont.bits("é"), BitmapFont.bits("?"))
    }

    func testPanelSize() throws {
        let tile = try RGBImage(width: 40, height: 30, fill: (0, 0, 1))
        let tiles = [Panel.Tile("a", tile), Panel.Tile("bb", tile), Panel.Tile("ccc", tile)]
        // Default style: margin 12, gap 12, title gap 4, text scale 2 (text 18 high).
        // 2 columns: width 12 + 40 + 12 + 40 + 12 = 116; rows of 18 + 4 + 30 = 52:
        // height 12 + 52 + 12 + 52 + 12 = 140.
        let plain = try Panel.compose(tiles, columns: 2)
        XCTAssertEqual([plain.width, plain.height], [116, 140])
        XCTAssertTrue(plain[0, 0, 0] == 1 && plain[0, 0, 2] == 1)       // white background
        XCTAssertTrue(plain[12 + 22, 12, 0] == 0 && plain[12 + 22, 12, 2] == 1)   // first tile, below its title
        XCTAssertTrue(plain[12 + 22, 64, 2] == 1 && plain[12 + 22, 64, 0] == 0)   // second tile at x = 64
        XCTAssertTrue(plain[12 + 52 + 12 + 22, 64, 0] == 1)             // no fourth tile
        // Caption "top-1: disc 0.93" (16 characters: (96 - 1) * 2 = 190 wide) at y = 128 + 12,
        // 18 high; a legend 12 below: title 18 + 4, bar 14, 4 + 18 labels = 58.
        let full = try Panel.compose(tiles, columns: 2, caption: ["top-1: disc 0.93"], legends: [Panel.Legend(.jet)])
        XCTAssertEqual([full.width, full.height], [190 + 24, 140 + 18 + 12 + 58 + 12])
        // One row by default.
        let row = try Panel.layout(tiles)
        XCTAssertEqual([row.columns, row.rows, row.width], [3, 1, 12 + 3 * 40 + 2 * 12 + 12])
        XCTAssertThrowsError(try Panel.compose(tiles, columns: 0))
    }
}

final class RenderDemoTests: XCTestCase {
    /// Gaussian blob over the sample disc image with every colormap, titles, caption and legends.
    /// Writes render-demo.png into LOUPE_DEMO_DIR to look at, else into a temporary folder
    /// removed after the test.
    func testDemoPanel() throws {
        let discPath = here.appendingPathComponent("../../SampleModels/tiny-cnn/images/disc.png").standardized.path
        let disc = try ImageIO.read(path: discPath)
        let image = try Resample.resize(disc, width: 192, height: 192)
        // A 14×14 "CAM": a blob at (row 5, col 8); signed: that blob minus a weaker one at (10, 3).
        let n = 14
        func blob(_ cy: Float, _ cx: Float, _ sigma: Float) -> [Float] {
            (0..<(n * n)).map { i in
                let dy = Float(i / n) - cy, dx = Float(i % n) - cx
                return exp(-(dx * dx + dy * dy) / (2 * sigma * sigma))
            }
        }
        let cam = try Scaling.normalizeMinMax(Tensor(shape: [n, n], floats: blob(5, 8, 2.5)))
        let signed = try Scaling.symmetric(Tensor(shape: [n, n], floats: zip(blob(5, 8, 2.5), blob(10, 3, 2)).map { $0 - 0.6 * $1 }))
        var tiles = [Panel.Tile("input", image)]
        for cmap in [Colormap.jet, .viridis, .inferno, .gray] {
            tiles.append(Panel.Tile(cmap.name, try Overlay.blend(cam, over: image, colormap: cmap, alpha: 0.5)))
        }
        tiles.append(Panel.Tile("RdBu_r signed", try Overlay.blend(signed, over: image, colormap: .rdBuR, alpha: 0.6)))
        tiles.append(Panel.Tile("jet > 0.5", try Overlay.thresholded(cam, over: image, colormap: .jet, threshold: 0.5, alpha: 0.6)))
        tiles.append(Panel.Tile("heat map", try Resample.resize(try Overlay.heatmap(cam, colormap: .inferno), width: 192, height: 192, mode: .nearest)))
        let panel = try Panel.compose(tiles, columns: 4,
                                      caption: ["top-3:  disc 0.912   square 0.061   triangle 0.027"],
                                      legends: [Panel.Legend(.jet, title: "jet, viridis, inferno, gray: 0 = min, 1 = max"),
                                                Panel.Legend(.rdBuR, title: "RdBu_r: signed, 99th percentile of |v|", labels: ["-p99", "0", "+p99"])])
        let L = try Panel.layout(tiles, columns: 4)
        XCTAssertEqual(L.width, 4 * 192 + 3 * 12 + 24)
        XCTAssertEqual(panel.width, L.width)
        XCTAssertEqual(panel.height, 12 + 2 * (22 + 192) + 12 + 12 + 18 + 2 * (12 + 58) + 12)
        let folder = try ProcessInfo.processInfo.environment["LOUPE_DEMO_DIR"].map { URL(fileURLWithPath: $0) }
            ?? TemporaryFolder.make("loupe-render-demo", for: self)
        let out = folder.appendingPathComponent("render-demo.png").path
        try ImageIO.writePNG(panel, path: out)
        let back = try ImageIO.read(path: out)
        XCTAssertEqual([back.width, back.height], [panel.width, panel.height])
        print("render demo: \(out)")
    }
}
