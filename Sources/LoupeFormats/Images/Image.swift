import Foundation
import LoupeTensor

/// Reads PNG and JPEG files (recognised by their first bytes, not their extension) and
/// writes 8-bit PNGs.
public enum ImageIO {
    public enum Format: Sendable { case png, jpeg }

    /// The format of an encoded image, from its magic bytes; nil if unrecognised.
    public static func format(of data: Data) -> Format? {
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        if data.count >= 8, data.prefix(8).elementsEqual(png) { return .png }
        if data.count >= 3, data.prefix(3).elementsEqual([0xFF, 0xD8, 0xFF]) { return .jpeg }
        return nil
    }

    /// The most pixels (width × height) an image may have unless the caller raises the limit:
    /// 178,956,970, where Pillow refuses a file as a decompression bomb, so whatever a
    /// Pillow-based pipeline opens opens here too. The header is read first and a larger image
    /// is refused before anything is allocated: a 1.2 MB PNG can declare 20000x20000 pixels.
    /// At the limit a decoded image takes 15 bytes a pixel for 8-bit RGB (2.7 GB), at most
    /// 24 for 16-bit RGBA (4.3 GB), while the file is being converted.
    public static let defaultMaxPixels = 178_956_970

    /// Decodes the PNG or JPEG file at `path`, refusing images of more than `maxPixels`
    /// pixels before decoding them. Errors name the file.
    public static func read(path: String, maxPixels: Int = defaultMaxPixels) throws -> RGBImage {
        let data = try InputFile.read(path, as: "image")
        do {
            return try decode(data, maxPixels: maxPixels)
        } catch let e as LoupeError {
            throw e.context("image '\(path)'")
        }
    }

    /// Decodes a PNG or JPEG held in memory (at most `maxPixels` pixels).
    public static func decode(_ data: Data, maxPixels: Int = defaultMaxPixels) throws -> RGBImage {
        switch format(of: data) {
        case .png: return try PNGCodec.decode(data, maxPixels: maxPixels)
        case .jpeg: return try JPEGDecoder.decode(data, maxPixels: maxPixels)
        case nil:
            let head = data.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw LoupeError.unsupported("not a PNG or JPEG file (first bytes: \(head.isEmpty ? "none, the file is empty" : head))")
        }
    }

    /// Throws when a `width` x `height` header exceeds `maxPixels`; called by the decoders
    /// after reading the header and before allocating the pixels. The message ends with
    /// `pixelLimitHint` so that callers can recognise it and say how to raise the limit.
    static func checkPixels(width: Int, height: Int, format: String, maxPixels: Int) throws {
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard overflow || pixels > maxPixels else { return }
        throw LoupeError(.tooLarge, "the \(format) header declares \(width)x\(height) = \(overflow ? "more than \(Int.max)" : String(pixels)) pixels, more than the limit of \(maxPixels) \(pixelLimitHint)")
    }

    /// The end of the pixel-limit error message.
    public static let pixelLimitHint = "pixels; refusing to decode it (a decompression bomb?)"

    /// Writes `image` as an 8-bit PNG (gray, gray + alpha, RGB or RGBA as its channels say);
    /// samples are clamped to 0...1 and rounded to the nearest 1/255.
    public static func writePNG(_ image: RGBImage, path: String) throws {
        try OutputFile.checkFolder(path, as: "PNG")
        do {
            try PNGCodec.write(image, path: path)
        } catch let e as LoupeError {
            throw e.context("writing '\(path)'")
        }
    }

    /// The PNG encoding of `image`, through `writePNG` and a temporary file (libpng's
    /// simplified API, which the rest of Loupe uses, writes to files).
    public static func pngData(_ image: RGBImage) throws -> Data {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-png-\(UUID().uuidString).png").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try writePNG(image, path: path)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoupeError(.io, "cannot read back the temporary picture \(path)")
        }
        return data
    }
}

/// `dst[i] = src[i] / 255`, correctly rounded (multiplying by `1 / 255` is not): a division
/// per element through plain pointers, which vectorises, and under the fuzzers' coverage
/// instrumentation costs no bounds check per element (a table lookup made the JPEG target
/// spend 70 % of its time here on large images).
func bytesToUnit(_ src: UnsafeBufferPointer<UInt8>, _ dst: UnsafeMutableBufferPointer<Float>) {
    guard let s = src.baseAddress, let d = dst.baseAddress else { return }
    let n = min(src.count, dst.count)
    for i in 0..<n { d[i] = Float(s[i]) / 255 }
}
