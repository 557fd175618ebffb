import CJPEG
import Foundation
import LoupeTensor

/// JPEG decoding through libjpeg(-turbo). The only file that imports CJPEG.
///
/// libjpeg's default error handler calls `exit()`; the C helpers in `Sources/CJPEG/shim.h`
/// install one that longjmps back into C and return an error code with libjpeg's message,
/// which this file turns into a `LoupeError`. Baseline and progressive files, grayscale
/// (1 channel) and YCbCr/RGB (3 channels, RGB order) are read; CMYK/YCCK are refused, and
/// so is a file whose data ends early (libjpeg itself would only warn and pad with gray).
enum JPEGDecoder {
    static func decode(_ data: Data, maxPixels: Int) throws -> RGBImage {
        guard let decoder = loupe_jpeg_new() else {
            throw LoupeError(.tooLarge, "JPEG: out of memory")
        }
        defer { loupe_jpeg_close(decoder) }
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> RGBImage in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
                throw LoupeError.invalid("JPEG: the file is empty")
            }
            var w: Int32 = 0, h: Int32 = 0, c: Int32 = 0
            let header = loupe_jpeg_read_header(decoder, base, UInt(raw.count), &w, &h, &c)
            guard header == 0 else {
                let text = String(cString: loupe_jpeg_message(decoder))
                throw header == 2 ? LoupeError.unsupported("JPEG: \(text)") : LoupeError.invalid("JPEG header: \(text)")
            }
            let width = Int(w), height = Int(h), channels = Int(c)
            try ImageIO.checkPixels(width: width, height: height, format: "JPEG", maxPixels: maxPixels)
            guard channels == 1 || channels == 3 else {
                throw LoupeError.unsupported("JPEG with \(channels) output components")
            }
            let count = try Tensor.checkedCount([height, width, channels])
            // Not zero-filled first: libjpeg writes every row, or the file is refused, and a
            // file refused early (truncated) touches only the rows it reached.
            var status: Int32 = 0
            let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                status = loupe_jpeg_decode(decoder, buffer.baseAddress)
                initialized = count
            }
            guard status == 0 else {
                let text = String(cString: loupe_jpeg_message(decoder))
                if status == 3 {
                    throw LoupeError.invalid("JPEG data is truncated (\(text))")
                }
                throw LoupeError.invalid("JPEG data: \(text)")
            }
            var pixels = [Float](repeating: 0, count: count)
            bytes.withUnsafeBufferPointer { src in pixels.withUnsafeMutableBufferPointer { bytesToUnit(src, $0) } }
            return try RGBImage(width: width, height: height, channels: channels, pixels: pixels, bitDepth: 8)
        }
    }
}
