import LoupeTensor
import LoupeTestSupport
import XCTest

@testable import LoupeFormats

/// `Preprocessing.Frame`: boxes of the model's input mapped back to the original image, by
/// hand and against what the preprocessing actually reads.
final class PreprocessingFrameTests: XCTestCase {
    /// imagenet on a 400×300 image: resized to 341×256 (shorter side 256, Int(256·400/300)),
    /// crop 224 at left (341 − 224)/2 = 58, top 16. Edge e of the input lies at image edge
    /// (e + 58)·400/341 across and (e + 16)·300/256 down.
    func testImagenetCropByHand() throws {
        let f = try Preprocessing.imagenet.frame(imageWidth: 400, imageHeight: 300, height: 224, width: 224)
        XCTAssertEqual(f, Preprocessing.Frame(imageWidth: 400, imageHeight: 300, resizedWidth: 341, resizedHeight: 256,
                                              left: 58, top: 16, width: 224, height: 224))
        XCTAssertFalse(f.isIdentity)
        // Whole input: y 16·300/256 = 18.75 → 18, 240·300/256 = 281.25 → 282;
        // x 58·400/341 = 68.04 → 68, 282·400/341 = 330.79 → 331.
        XCTAssertEqual(f.imageBox([0, 0, 224, 224]), [18, 68, 282, 331])
        // A field [17, 1, 42, 26): y 33·300/256 = 38.67 → 38, 58·300/256 = 67.97 → 68;
        // x 59·400/341 = 69.21 → 69, 84·400/341 = 98.53 → 99.
        XCTAssertEqual(f.imageBox([17, 1, 42, 26]), [38, 69, 68, 99])
        // The centre of input pixel (0, 0): ((0 + 16 + 0.5)·300/256 − 0.5, (0 + 58 + 0.5)·400/341 − 0.5).
        let p = f.imagePoint(y: 0, x: 0)
        XCTAssertEqual(p.y, 16.5 * 300 / 256 - 0.5, accuracy: 1e-12)
        XCTAssertEqual(p.x, 58.5 * 400 / 341 - 0.5, accuracy: 1e-12)
    }

    /// `none` resizes straight to the input: 128×96 into 64×64 scales x by 2 and y by 1.5.
    func testStraightResizeAndIdentity() throws {
        let f = try Preprocessing.none.frame(imageWidth: 128, imageHeight: 96, height: 64, width: 64)
        XCTAssertEqual(f.imageBox([10, 20, 30, 40]), [15, 40, 45, 80])
        XCTAssertEqual(f.imageBox([0, 0, 64, 64]), [0, 0, 96, 128])
        let same = try Preprocessing.none.frame(imageWidth: 64, imageHeight: 64, height: 64, width: 64)
        XCTAssertTrue(same.isIdentity)
        XCTAssertEqual(same.imageBox([3, 0, 17, 64]), [3, 0, 17, 64])
    }

    /// The pixels outside the whole input's image box do not reach the input: changing them
    /// leaves the preprocessed tensor unchanged.
    func testPixelsOutsideTheImageBoxAreNotRead() throws {
        let (w, h) = (400, 300)
        var rng = SeededRandom(seed: 3)
        let base = (0..<(w * h * 3)).map { _ in rng.uniform(0, 1) }
        let p = Preprocessing.imagenet.geometryOnly
        let box = try p.frame(imageWidth: w, imageHeight: h, height: 224, width: 224).imageBox([0, 0, 224, 224])
        var changed = base
        for y in 0..<h { for x in 0..<w where y < box[0] || y >= box[2] || x < box[1] || x >= box[3] {
            for c in 0..<3 { changed[(y * w + x) * 3 + c] = 1 - base[(y * w + x) * 3 + c] }
        } }
        let a = try p.tensor(from: RGBImage(width: w, height: h, channels: 3, pixels: base), height: 224, width: 224)
        let b = try p.tensor(from: RGBImage(width: w, height: h, channels: 3, pixels: changed), height: 224, width: 224)
        XCTAssertEqual(a.floats, b.floats)
        // geometryOnly keeps values in [0, 1], RGB, NCHW.
        XCTAssertEqual(a.shape, [1, 3, 224, 224])
        XCTAssertTrue(a.floats.allSatisfy { $0 >= 0 && $0 <= 1 })
    }
}
