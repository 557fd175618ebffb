import LoupeFormats
import LoupeFuzzSupport

/// Keras `.h5` model files: what the HDF5 guard's child process runs (`HDF5Guard.runChild`:
/// `ModelFile.load` in process), i.e. libhdf5's parsing, the `model_config` JSON and the
/// graph builder's reading of every layer's weights. The guard's parent is libFuzzer's fork
/// mode (`-fork=1 -ignore_crashes=1`, set by Scripts/fuzz.sh): a crash or hang inside libhdf5
/// is saved as an artefact and the run goes on, as `loupe` goes on with a clear error when its
/// child dies. Every artefact is then replayed through the guarded `ModelFile.load`, which must
/// throw (Tests/LoupeFormatsTests/FuzzRegressionTests.swift).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKerasH5(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let path = FuzzHarness.file(FuzzHarness.raw(bytes, size), ext: "h5")
    FuzzHarness.check { _ = try ModelFile.load(path: path) }
    return 0
}
