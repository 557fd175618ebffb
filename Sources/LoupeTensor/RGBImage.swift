/// A decoded raster image: `pixels` holds `height * width * channels` samples in HWC order
/// (row-major, channels interleaved), each in 0...1 (8-bit samples are divided by 255,
/// 16-bit samples by 65535).
///
/// `channels` is 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA). Alpha is straight (not
/// premultiplied). `bitDepth` is the precision of the source file (8 or 16).
public struct RGBImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var pixels: [Float]
    public var bitDepth: Int

    public init(width: Int, height: Int, channels: Int, pixels: [Float], bitDepth: Int = 8) throws {
        guard width >= 0, height >= 0 else {
            throw LoupeError(.invalidArgument, "image size \(width)x\(height) is negative")
        }
        guard (1...4).contains(channels) else {
            throw LoupeError(.invalidArgument, "an image has 1 to 4 channels, not \(channels)")
        }
        let n = try Tensor.checkedCount([height, width, channels])
        guard pixels.count == n else {
            throw LoupeError(.invalidArgument, "\(pixels.count) samples for a \(width)x\(height) image with \(channels) channels (expected \(n))")
        }
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
        self.bitDepth = bitDepth
    }

    public var hasAlpha: Bool { channels == 2 || channels == 4 }

    /// Sample at row `y`, column `x`, channel `c`.
    public subscript(y: Int, x: Int, c: Int) -> Float {
        pixels[(y * width + x) * channels + c]
    }
}
