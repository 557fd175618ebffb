import LoupeRender
import LoupeTensor
import XCTest

/// `PatchGrid`: cutting a field that reaches past the image, and where the patch, the padding
/// stripes and the marker land in the picture.
final class PatchGridTests: XCTestCase {
    /// An 8×8 image whose pixel (y, x) is (y / 10, x / 10, 0.5).
    func ramp() throws -> RGBImage {
        var px: [Float] = []
        for y in 0..<8 { for x in 0..<8 { px += [Float(y) / 10, Float(x) / 10, 0.5] } }
        return try RGBImage(width: 8, height: 8, channels: 3, pixels: px)
    }

    func testCutClipsAtTheBorderAndKeepsTheCentre() throws {
        // Field rows −2..<3, columns 5..<10 of an 8×8 image: 5×5, inside rows 2..<5, columns 0..<3.
        let p = try PatchGrid.Patch.cut(from: ramp(), field: (-2..<3, 5..<10), centre: (y: 0, x: 7), label: "1.0")
        XCTAssertEqual(p.image.width, 5)
        XCTAssertEqual(p.image.height, 5)
        XCTAssertEqual(p.inside, [2, 0, 5, 3])
        XCTAssertEqual(p.centre.y, 2)
        XCTAssertEqual(p.centre.x, 2)
        // Patch pixel (2, 0) is image pixel (0, 5); (4, 2) is (2, 7); padding is black.
        XCTAssertEqual(p.image[2, 0, 1], 0.5, accuracy: 1e-6)
        XCTAssertEqual(p.image[4, 2, 0], 0.2, accuracy: 1e-6)
        XCTAssertEqual(p.image[4, 2, 1], 0.7, accuracy: 1e-6)
        XCTAssertEqual(p.image[0, 0, 2], 0)
        XCTAssertEqual(p.image[2, 4, 2], 0)
        // Shrinking scales inside and centre with the pixels.
        let s = try p.scaled(toFit: 2)
        XCTAssertEqual(s.image.width, 2)
        XCTAssertEqual(s.inside, [1, 0, 2, 1])
        XCTAssertEqual(s.centre.y, 2.5 * 0.4 - 0.5, accuracy: 1e-12)
    }

    func testRenderPlacesPatchStripesAndMarker() throws {
        var style = PatchGrid.Style()
        style.cell = 40
        // One row, one 5×5 patch enlarged 8 times: cell pixel (py, px) shows patch pixel (py/8, px/8).
        let p = try PatchGrid.Patch.cut(from: ramp(), field: (-2..<3, 5..<10), centre: (y: 0, x: 7), label: "1.0")
        let img = try PatchGrid.render([PatchGrid.Row(title: "ch 0", patches: [p])], style: style)
        let titleWidth = (4 * 6 - 1) * 2
        let left = 12 + titleWidth + 12, top = 12 + 11
        XCTAssertEqual(img.width, left + 40 + 12)
        XCTAssertEqual(img.height, top + 40 + 12)
        // Inside: patch pixel (4, 1) = image pixel (2, 6) → (0.2, 0.6, 0.5).
        XCTAssertEqual(img[top + 4 * 8 + 3, left + 1 * 8 + 3, 0], 0.2, accuracy: 1e-6)
        XCTAssertEqual(img[top + 4 * 8 + 3, left + 1 * 8 + 3, 1], 0.6, accuracy: 1e-6)
        // Padding (patch rows 0, 1 and columns 3, 4) is gray stripes.
        for (py, px) in [(3, 3), (3, 36), (20, 35)] {
            let v = img[top + py, left + px, 0]
            XCTAssertTrue(v == 0.62 || v == 0.80, "(\(py), \(px)): \(v)")
            XCTAssertEqual(img[top + py, left + px, 1], v)
        }
        // The marker: red at the centre of patch pixel (2, 2), i.e. cell pixel (20, 20).
        XCTAssertEqual(img[top + 20, left + 20, 0], 0.9, accuracy: 1e-6)
        XCTAssertEqual(img[top + 20, left + 20, 1], 0.05, accuracy: 1e-6)
    }
}
