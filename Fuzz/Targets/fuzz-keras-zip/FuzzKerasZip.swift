import LoupeFormats
import LoupeFuzzSupport

/// Keras 3 `.keras` archives: the ZIP reader (central directory, local headers, CRC, entry
/// names), `config.json`, and `model.weights.h5` opened from memory by libhdf5. As for
/// fuzz-keras-h5, this is the guard's child; Scripts/fuzz.sh runs it in fork mode.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKerasZip(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let path = FuzzHarness.file(FuzzHarness.raw(bytes, size), ext: "keras")
    FuzzHarness.check { _ = try ModelFile.load(path: path) }
    return 0
}
