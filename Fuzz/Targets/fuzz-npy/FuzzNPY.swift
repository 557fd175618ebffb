import LoupeFormats
import LoupeFuzzSupport

/// `.npy` files from memory (`NPY.decode`: preamble, the Python-literal header, dtypes, byte
/// and memory orders), then written back and read again, which must give the same shape.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNPY(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let data = FuzzHarness.data(bytes, size)
    FuzzHarness.check {
        let t = try NPY.decode(data)
        let again = try NPY.decode(NPY.encode(t))
        precondition(again.shape == t.shape, "npy round trip changed the shape \(t.shape) to \(again.shape)")
    }
    return 0
}
