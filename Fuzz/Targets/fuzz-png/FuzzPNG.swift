import LoupeFormats
import LoupeFuzzSupport

/// PNG decoding from memory (`ImageIO.decode`: libpng's simplified API, the pixel limit
/// checked from the header, 16-bit and alpha handling), at `FuzzHarness.maxPixels`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNG(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let data = FuzzHarness.data(bytes, size)
    FuzzHarness.check { _ = try ImageIO.decode(data, maxPixels: FuzzHarness.maxPixels) }
    return 0
}
