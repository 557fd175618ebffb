import LoupeTensor
import LoupeTestSupport
import XCTest

@testable import LoupeFormats

/// Hand-computed cases for Preprocessing.
final class PreprocessTests: XCTestCase {
    private func image(_ w: Int, _ h: Int, _ c: Int, _ v: [Float]) throws -> RGBImage {
        try RGBImage(width: w, height: h, channels: c, pixels: v)
    }


    func testBilinearUpsampleHalfPixelCenters() throws {
        // 2 -> 4 columns: source x = (i + 0.5) / 2 - 0.5 = -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
        let t = try Preprocessing(grayscale: true).tensor(from: image(2, 1, 1, [0, 1]), height: 1, width: 4)
        XCTAssertEqual(t.shape, [1, 1, 1, 4])
        assertClose(t.floats, [0, 0.25, 0.75, 1])
    }

    func testBilinearDownsample() throws {
        // 4 -> 2 columns: source x = 0.5 and 2.5.
        let t = try Preprocessing(grayscale: true).tensor(from: image(4, 1, 1, [0, 0.2, 0.4, 0.6]), height: 1, width: 2)
        assertClose(t.floats, [0.1, 0.5])
        // 2x2 -> 3x3 rows and columns: centre = mean of the four.
        let u = try Preprocessing(grayscale: true).tensor(from: image(2, 2, 1, [0, 0.4, 0.8, 0.2]), height: 3, width: 3)
        // source coords for 3 outputs from 2: (i + 0.5) * 2/3 - 0.5 = -1/6 (0), 0.5, 7/6 (1)
        assertClose(u.floats, [0, 0.2, 0.4, 0.4, 0.35, 0.3, 0.8, 0.5, 0.2])
    }

    func testResizeShorterSideThenCenterCrop() throws {
        // 6x2 image, shorter side already 2: no resampling, crop 2x3 from columns 1...3.
        let values = (0..<12).map { Float($0) / 12 }
        var p = Preprocessing(resizeShorterSide: 2, grayscale: true)
        let t = try p.tensor(from: image(6, 2, 1, values), height: 2, width: 3)
        assertClose(t.floats, [1, 2, 3, 7, 8, 9].map { Float($0) / 12 })
        // Shorter side 1: 6x2 -> 3x1 (source x = 0.5, 2.5, 4.5; y = 0.5), crop 1x1 = middle.
        p.resizeShorterSide = 1
        let u = try p.tensor(from: image(6, 2, 1, values), height: 1, width: 1)
        assertClose(u.floats, [(2 + 3 + 8 + 9) / 4 / 12])
        XCTAssertThrowsError(try p.tensor(from: image(6, 2, 1, values), height: 2, width: 2))
    }

    func testPresetResizeScalesWithTarget() throws {
        let img = try image(400, 300, 3, [Float](repeating: 0.5, count: 400 * 300 * 3))
        let s224 = try Preprocessing.imagenet.resizedSize(image: img, height: 224, width: 224)
        XCTAssertEqual(s224.0, 341)  // Int(256 * 400 / 300)
        XCTAssertEqual(s224.1, 256)
        let s299 = try Preprocessing.imagenet.resizedSize(image: img, height: 299, width: 299)
        XCTAssertEqual(s299.1, 342)  // round(256 * 299 / 224)
        XCTAssertEqual(s299.0, 456)
        let t = try Preprocessing.imagenet.tensor(from: img)
        XCTAssertEqual(t.shape, [1, 3, 224, 224])
        XCTAssertEqual(t.floats[0], (0.5 - 0.485) / 0.229, accuracy: 1e-5)
        XCTAssertEqual(t.floats[224 * 224 * 2], (0.5 - 0.406) / 0.225, accuracy: 1e-5)
    }

    func testPresetsOnOnePixel() throws {
        let px = try image(1, 1, 3, [0.2, 0.4, 0.6])
        assertClose(try Preprocessing.imagenet.tensor(from: px, height: 1, width: 1).floats,
                    [(0.2 - 0.485) / 0.229, (0.4 - 0.456) / 0.224, (0.6 - 0.406) / 0.225])
        assertClose(try Preprocessing.caffe.tensor(from: px, height: 1, width: 1).floats,
                    [0.6 * 255 - 103.939, 0.4 * 255 - 116.779, 0.2 * 255 - 123.68], 1e-3)
        assertClose(try Preprocessing.tf.tensor(from: px, height: 1, width: 1).floats, [-0.6, -0.2, 0.2])
        assertClose(try Preprocessing.none.tensor(from: px, height: 1, width: 1).floats, [0.2, 0.4, 0.6])
        XCTAssertEqual(try Preprocessing.preset(named: "Caffe"), .caffe)
        XCTAssertThrowsError(try Preprocessing.preset(named: "vgg"))
    }

    func testLayoutsAndChannelOrder() throws {
        // 2x1 RGB: pixel 0 = (0.1, 0.2, 0.3), pixel 1 = (0.4, 0.5, 0.6).
        let img = try image(2, 1, 3, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
        let nchw = try Preprocessing().tensor(from: img, height: 1, width: 2)
        XCTAssertEqual(nchw.shape, [1, 3, 1, 2])
        assertClose(nchw.floats, [0.1, 0.4, 0.2, 0.5, 0.3, 0.6])
        let nhwc = try Preprocessing(channelOrder: .bgr, layout: .nhwc).tensor(from: img, height: 1, width: 2)
        XCTAssertEqual(nhwc.shape, [1, 1, 2, 3])
        assertClose(nhwc.floats, [0.3, 0.2, 0.1, 0.6, 0.5, 0.4])
    }

    func testGrayscaleAlphaAndGrayToRGB() throws {
        let rgba = try image(1, 1, 4, [0.2, 0.4, 0.6, 0.1])
        let luma = try Preprocessing(scale: .byte, grayscale: true).tensor(from: rgba, height: 1, width: 1)
        XCTAssertEqual(luma.shape, [1, 1, 1, 1])
        let expected: Float = (0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6) * 255  // 0.363 * 255
        XCTAssertEqual(luma.floats[0], expected, accuracy: 1e-4)
        let ga = try image(1, 1, 2, [0.7, 0.0])
        assertClose(try Preprocessing(mean: [0.1, 0.2, 0.3]).tensor(from: ga, height: 1, width: 1).floats, [0.6, 0.5, 0.4])
    }

    func testBadParameters() throws {
        let px = try image(1, 1, 3, [0.2, 0.4, 0.6])
        XCTAssertThrowsError(try Preprocessing.imagenet.with(grayscale: true).tensor(from: px, height: 1, width: 1)) { e in
            XCTAssertTrue("\(e)".contains("mean has 3 values"), "\(e)")
        }
        XCTAssertThrowsError(try Preprocessing(std: [0]).tensor(from: px, height: 1, width: 1))
        XCTAssertThrowsError(try Preprocessing().tensor(from: px, height: 0, width: 1))
    }
}

private extension Preprocessing {
    func with(grayscale: Bool) -> Preprocessing {
        var p = self
        p.grayscale = grayscale
        return p
    }
}
