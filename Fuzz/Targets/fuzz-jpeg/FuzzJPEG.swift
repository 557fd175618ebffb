import LoupeFormats
import LoupeFuzzSupport

/// JPEG decoding from memory (`ImageIO.decode`: libjpeg-turbo behind the C shim's longjmp
/// error handler, the pixel limit checked from the header), at `FuzzHarness.maxPixels`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJPEG(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let data = FuzzHarness.data(bytes, size)
    FuzzHarness.check { _ = try ImageIO.decode(data, maxPixels: FuzzHarness.maxPixels) }
    return 0
}
