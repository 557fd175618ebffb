import Foundation
import LoupeTensor
import XCTest

@testable import LoupeFormats

/// Fixtures are written by Scripts/fixtures/make-format-fixtures.py; `px8` and `px16` are the
/// formulas it used for every PNG sample.
func fixture(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)").path
}

private func px8(_ x: Int, _ y: Int, _ c: Int) -> Float { Float((x * 37 + y * 71 + c * 101 + 5) % 256) / 255 }
private func px16(_ x: Int, _ y: Int, _ c: Int) -> Int { (x * 4099 + y * 1543 + c * 20011 + 7) % 65536 }

private func assertThrows(_ body: @autoclosure () throws -> Any, kind: LoupeError.Kind? = nil, contains parts: [String],
                          file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected an error", file: file, line: line)
    } catch let e as LoupeError {
        if let kind { XCTAssertEqual(e.kind, kind, "\(e)", file: file, line: line) }
        for p in parts { XCTAssertTrue(e.message.contains(p), "'\(e.message)' should mention '\(p)'", file: file, line: line) }
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
}

final class ImageTests: XCTestCase {
    func testRGB16KeepsSixteenBitPrecision() throws {
        let img = try ImageIO.read(path: fixture("rgb16.png"))
        XCTAssertEqual([img.width, img.height, img.channels, img.bitDepth], [4, 3, 3, 16])
        for y in 0..<3 { for x in 0..<4 { for c in 0..<3 {
            XCTAssertEqual(img[y, x, c], Float(px16(x, y, c)) / 65535, accuracy: 1e-6, "(\(x),\(y),\(c))")
        } } }
    }

    func testGray16() throws {
        let img = try ImageIO.read(path: fixture("gray16.png"))
        XCTAssertEqual([img.width, img.height, img.channels, img.bitDepth], [2, 2, 1, 16])
        for y in 0..<2 { for x in 0..<2 {
            XCTAssertEqual(img[y, x, 0], Float(px16(x, y, 0)) / 65535, accuracy: 1e-6)
        } }
    }

    func testRGBA16StraightAlpha() throws {
        let img = try ImageIO.read(path: fixture("rgba16.png"))
        XCTAssertEqual([img.width, img.height, img.channels, img.bitDepth], [3, 2, 4, 16])
        for y in 0..<2 { for x in 0..<3 {
            let a = (x, y) == (0, 0) ? 65535 : px16(x, y, 3)
            XCTAssertEqual(img[y, x, 3], Float(a) / 65535, accuracy: 1e-6)
            // libpng premultiplies 16-bit colour; undoing it is exact to 0.5 / alpha.
            for c in 0..<3 {
                XCTAssertEqual(img[y, x, c], Float(px16(x, y, c)) / 65535, accuracy: 0.5 / Float(a) + 1e-6, "(\(x),\(y),\(c)) alpha \(a)")
            }
        } }
        XCTAssertEqual(img[0, 0, 1], Float(px16(0, 0, 1)) / 65535, accuracy: 1e-6)  // opaque: exact
    }

    func testGrayAlpha8() throws {
        let img = try ImageIO.read(path: fixture("gray_alpha.png"))
        XCTAssertEqual([img.width, img.height, img.channels, img.bitDepth], [3, 2, 2, 8])
        for y in 0..<2 { for x in 0..<3 { for c in 0..<2 {
            XCTAssertEqual(img[y, x, c], px8(x, y, c), accuracy: 1e-6)
        } } }
    }

    func testRGB8() throws {
        let img = try ImageIO.read(path: fixture("rgb8.png"))
        XCTAssertEqual([img.width, img.height, img.channels], [5, 4, 3])
        for y in 0..<4 { for x in 0..<5 { for c in 0..<3 {
            XCTAssertEqual(img[y, x, c], px8(x, y, c), accuracy: 1e-6)
        } } }
    }

    func testPaletteWithTransparency() throws {
        let img = try ImageIO.read(path: fixture("palette.png"))
        XCTAssertEqual([img.width, img.height, img.channels], [4, 2, 4])
        for y in 0..<2 { for x in 0..<4 {
            let i = (x + 2 * y) % 5
            for c in 0..<3 { XCTAssertEqual(img[y, x, c], px8(i, 0, c), accuracy: 1e-6) }
            XCTAssertEqual(img[y, x, 3], Float(i < 3 ? 255 - 40 * i : 255) / 255, accuracy: 1e-6)
        } }
    }

    func testOneBitGray() throws {
        let img = try ImageIO.read(path: fixture("gray1.png"))
        XCTAssertEqual([img.width, img.height, img.channels], [8, 2, 1])
        for y in 0..<2 { for x in 0..<8 {
            XCTAssertEqual(img[y, x, 0], (x + y) % 3 == 0 ? 1 : 0)
        } }
    }

    func testTruncatedPNG() {
        assertThrows(try ImageIO.read(path: fixture("truncated.png")), kind: .invalidModel, contains: ["truncated.png", "truncated"])
    }

    func testJPEGMatchesPillowAndFormula() throws {
        let img = try ImageIO.read(path: fixture("rgb.jpg"))
        XCTAssertEqual([img.width, img.height, img.channels], [16, 8, 3])
        let reference = try NPY.read(path: fixture("rgb_jpg_decoded.npy"))  // Pillow's decode, [8, 16, 3] uint8
        XCTAssertEqual(reference.shape, [8, 16, 3])
        var worst: Float = 0
        for y in 0..<8 { for x in 0..<16 {
            let formula = [40 + 8 * x, 60 + 10 * y, 200 - 4 * x - 5 * y]
            for c in 0..<3 {
                let v = img[y, x, c]
                XCTAssertEqual(v, Float(reference.ints[(y * 16 + x) * 3 + c]) / 255, accuracy: 1.01 / 255)  // identical here; other libjpeg builds may differ by 1
                worst = max(worst, abs(v * 255 - Float(formula[c])))
            }
        } }
        XCTAssertLessThan(worst, 8, "quality-95 JPEG should stay close to the smooth source")
    }

    func testProgressiveGrayJPEG() throws {
        let img = try ImageIO.read(path: fixture("gray_progressive.jpg"))
        XCTAssertEqual([img.width, img.height, img.channels], [16, 8, 1])
        let reference = try NPY.read(path: fixture("gray_progressive_jpg_decoded.npy"))
        XCTAssertEqual(reference.shape, [8, 16])
        for y in 0..<8 { for x in 0..<16 {
            XCTAssertEqual(img[y, x, 0], Float(reference.ints[y * 16 + x]) / 255, accuracy: 1.01 / 255)  // identical here; other libjpeg builds may differ by 1
            XCTAssertEqual(img[y, x, 0] * 255, Float(30 + 9 * x + 6 * y), accuracy: 8)
        } }
    }

    func testTruncatedJPEG() {
        assertThrows(try ImageIO.read(path: fixture("truncated.jpg")), kind: .invalidModel, contains: ["truncated.jpg", "truncated"])
    }

    func testCMYKJPEGRefused() {
        assertThrows(try ImageIO.read(path: fixture("cmyk.jpg")), kind: .unsupported, contains: ["cmyk.jpg", "CMYK"])
    }

    func testUnknownFormatAndMissingFile() throws {
        let path = NSTemporaryDirectory() + "loupe-not-an-image-\(getpid()).png"
        try Data("hello world".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        assertThrows(try ImageIO.read(path: path), kind: .unsupported, contains: [path, "68 65 6c"])
        assertThrows(try ImageIO.read(path: "/nonexistent/x.png"), kind: .io, contains: ["/nonexistent/x.png"])
    }

    func testPNGWriteRoundTrip() throws {
        for channels in 1...4 {
            let (w, h) = (3, 2)
            let values = (0..<(w * h * channels)).map { Float(($0 * 53 + 11) % 256) / 255 }
            let img = try RGBImage(width: w, height: h, channels: channels, pixels: values)
            let path = NSTemporaryDirectory() + "loupe-roundtrip-\(getpid())-\(channels).png"
            defer { try? FileManager.default.removeItem(atPath: path) }
            try ImageIO.writePNG(img, path: path)
            let back = try ImageIO.read(path: path)
            XCTAssertEqual([back.width, back.height, back.channels, back.bitDepth], [w, h, channels, 8])
            for i in 0..<values.count { XCTAssertEqual(back.pixels[i], values[i], accuracy: 1e-6, "channels \(channels) sample \(i)") }
        }
    }

    func testPNGWriteClampsAndRounds() throws {
        let img = try RGBImage(width: 2, height: 1, channels: 1, pixels: [-0.5, 100.4 / 255])
        let path = NSTemporaryDirectory() + "loupe-clamp-\(getpid()).png"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try ImageIO.writePNG(img, path: path)
        XCTAssertEqual(try ImageIO.read(path: path).pixels, [0, 100 / 255])
        assertThrows(try ImageIO.writePNG(img, path: "/nonexistent/dir/x.png"), kind: .io, contains: ["/nonexistent/dir/x.png"])
    }

    func testRGBImageValidatesSampleCount() {
        assertThrows(try RGBImage(width: 2, height: 2, channels: 3, pixels: [0, 1]), kind: .invalidArgument, contains: ["expected 12"])
        assertThrows(try RGBImage(width: 1, height: 1, channels: 5, pixels: [0, 0, 0, 0, 0]), contains: ["5"])
    }
}
