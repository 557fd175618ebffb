import LoupeFormats
import LoupeFuzzSupport

/// Class-label files (`LabelFile.read`: UTF-8 text, one label a line), through a file as the
/// command line reads them.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLabels(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let path = FuzzHarness.file(FuzzHarness.raw(bytes, size), ext: "txt")
    FuzzHarness.check {
        for label in try LabelFile.read(path: path) {
            precondition(!label.isEmpty && label == label.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }
    return 0
}
