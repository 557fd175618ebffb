import LoupeFormats
import LoupeFuzzSupport
import LoupeGraph

/// ONNX models: `ModelFile.load` on a `.onnx` file (protobuf-c's unpacking, then Loupe's
/// conversion of every initializer, attribute and value type, external data included), then
/// what `loupe inspect` does with a model it has read: concrete input types and the summary,
/// which infers every node's output type. A file `weights.bin` (64 bytes) lies beside the
/// model so that external-data references have something to find.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzONNX(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let path = FuzzHarness.file(FuzzHarness.raw(bytes, size), ext: "onnx")
    FuzzHarness.check {
        let graph = try ModelFile.load(path: path)
        let types = try ModelFile.inputTypes(graph)
        _ = try GraphSummary(graph: graph, inputTypes: types)
    }
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzONNXInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    FuzzHarness.besideInput("weights.bin", bytes: (0..<64).map { UInt8($0) })
    return 0
}
