import CPNG
import Foundation
import LoupeTensor

/// PNG through libpng's simplified `png_image` API, which reports errors by return value
/// (no setjmp). The only file that imports CPNG.
///
/// Decoding keeps the file's channels (gray, gray + alpha, RGB, RGBA; palettes expand to RGB
/// or RGBA, low bit depths to 8 bits) and its precision: 16-bit files are read through
/// libpng's 16-bit "linear" formats. Without a gAMA/sRGB chunk libpng treats 16-bit data as
/// linear and 8-bit data as sRGB, so both come out unchanged; a file whose gAMA chunk says
/// otherwise is converted by libpng. For 16-bit files with alpha libpng returns
/// premultiplied colour, which is divided back here: a colour sample is then off by at most
/// 0.5 / A (A the 16-bit alpha value, 1...65535), and colour under A = 0 reads as 0.
enum PNGCodec {
    static func decode(_ data: Data, maxPixels: Int) throws -> RGBImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> RGBImage in
            try checkChunkLengths(raw)
            guard png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count) != 0 else {
                throw LoupeError.invalid("PNG header: \(message(image))")
            }
            let file = image.format
            let linear = file & PNG_FORMAT_FLAG_LINEAR != 0
            let color = file & PNG_FORMAT_FLAG_COLOR != 0
            let alpha = file & PNG_FORMAT_FLAG_ALPHA != 0
            image.format = (linear ? PNG_FORMAT_FLAG_LINEAR : 0) | (color ? PNG_FORMAT_FLAG_COLOR : 0)
                | (alpha ? PNG_FORMAT_FLAG_ALPHA : 0)
            let channels = (color ? 3 : 1) + (alpha ? 1 : 0)
            let width = Int(image.width), height = Int(image.height)
            try ImageIO.checkPixels(width: width, height: height, format: "PNG", maxPixels: maxPixels)
            let count = try Tensor.checkedCount([height, width, channels])
            let stride = Int32(width * channels)  // in components
            var pixels = [Float](repeating: 0, count: count)
            if linear {
                var buffer = [UInt16](repeating: 0, count: count)
                let ok = buffer.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, stride, nil) }
                guard ok != 0 else { throw dataError(image) }
                buffer.withUnsafeBufferPointer { src in
                    pixels.withUnsafeMutableBufferPointer { dst in
                        for i in 0..<count { dst[i] = Float(src[i]) / 65535 }
                        if alpha { unpremultiply(dst, channels: channels) }
                    }
                }
            } else {
                var buffer = [UInt8](repeating: 0, count: count)
                let ok = buffer.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, stride, nil) }
                guard ok != 0 else { throw dataError(image) }
                buffer.withUnsafeBufferPointer { src in pixels.withUnsafeMutableBufferPointer { bytesToUnit(src, $0) } }
            }
            return try RGBImage(width: width, height: height, channels: channels, pixels: pixels, bitDepth: linear ? 16 : 8)
        }
    }

    /// Refuses a chunk that declares more bytes than the file holds after it, before libpng
    /// sees the file. libpng (1.6.39) allocates and zero-fills a buffer of the declared length
    /// for an ancillary chunk (sPLT, tEXt, iCCP, unknown chunks) before reading its data, up
    /// to 2^31 - 1 bytes: a 105-byte file with a 2 GB `sPLT` length made it fill 2 GB
    /// (fuzz-png, docs/fuzzing.md). Checked here, what libpng allocates for a chunk is bounded
    /// by the file's size. The walk stops at IEND; the signature, CRCs and everything else
    /// are libpng's to check.
    static func checkChunkLengths(_ raw: UnsafeRawBufferPointer) throws {
        var offset = 8  // the signature
        while raw.count - offset >= 8 {
            let length = raw[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            let type = String(decoding: raw[offset + 4..<offset + 8].map { (0x20...0x7E).contains($0) ? $0 : 0x3F }, as: UTF8.self)
            let remaining = raw.count - offset - 12  // after the length, type and CRC
            guard length <= remaining else {
                throw LoupeError.invalid("PNG data is truncated: chunk '\(type)' at byte \(offset) declares \(length) bytes but the file holds \(max(remaining, 0)) after it")
            }
            if type == "IEND" { return }
            offset += 12 + length
        }
    }

    /// Turns associated (premultiplied) colour back into straight colour; alpha is last.
    private static func unpremultiply(_ p: UnsafeMutableBufferPointer<Float>, channels: Int) {
        var i = 0
        while i < p.count {
            let a = p[i + channels - 1]
            for c in 0..<(channels - 1) {
                p[i + c] = a > 0 ? min(p[i + c] / a, 1) : 0
            }
            i += channels
        }
    }

    /// Writes an 8-bit PNG with the image's channels.
    static func write(_ img: RGBImage, path: String) throws {
        guard img.width > 0, img.height > 0 else {
            throw LoupeError(.invalidArgument, "cannot write an empty \(img.width)x\(img.height) image as PNG")
        }
        guard img.width <= Int(UInt32.max), img.height <= Int(UInt32.max) else {
            throw LoupeError(.tooLarge, "image \(img.width)x\(img.height) is too large for PNG")
        }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(img.width)
        image.height = UInt32(img.height)
        switch img.channels {
        case 1: image.format = 0
        case 2: image.format = PNG_FORMAT_FLAG_ALPHA
        case 3: image.format = PNG_FORMAT_FLAG_COLOR
        default: image.format = PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA
        }
        var bytes = [UInt8](repeating: 0, count: img.pixels.count)
        img.pixels.withUnsafeBufferPointer { src in
            bytes.withUnsafeMutableBufferPointer { dst in
                for i in 0..<src.count {
                    let v = src[i].isNaN ? 0 : min(max(src[i], 0), 1)
                    dst[i] = UInt8((v * 255).rounded())
                }
            }
        }
        let stride = Int32(img.width * img.channels)
        let ok = bytes.withUnsafeBytes { png_image_write_to_file(&image, path, 0, $0.baseAddress, stride, nil) }
        defer { png_image_free(&image) }
        guard ok != 0 else { throw LoupeError(.io, "PNG: \(message(image))") }
    }

    private static func dataError(_ image: png_image) -> LoupeError {
        let text = message(image)
        return LoupeError.invalid(text.contains("end of data") ? "PNG data is truncated (\(text))" : "PNG data: \(text)")
    }

    private static func message(_ image: png_image) -> String {
        withUnsafeBytes(of: image.message) { raw in
            let text = String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            return text.isEmpty ? "unknown libpng error" : text
        }
    }
}
