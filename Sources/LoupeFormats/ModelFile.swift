import Foundation
import LoupeGraph
import LoupeTensor

/// Opens any model file Loupe reads, choosing the importer by extension.
public enum ModelFile {
    public static let extensions = ["onnx", "h5", "keras"]

    /// `config` is a Keras architecture JSON for a weights-only `.h5` file. HDF5-based files
    /// (`.h5`, `.hdf5`, `.keras`) are read in a child process first (`HDF5Guard`), so that a
    /// damaged file that crashes or hangs libhdf5 gives an error here instead.
    public static func load(path: String, config: String? = nil) throws -> Graph {
        let ext = (path as NSString).pathExtension.lowercased()
        if config != nil && ext != "h5" && ext != "hdf5" {
            throw LoupeError(.invalidArgument, "\(path): `config` applies only to weights-only Keras .h5 files")
        }
        switch ext {
        case "onnx", "pb", "":
            return try ONNXImporter.load(path: path)
        case "h5", "hdf5", "keras":
            try HDF5Guard.check(path, config: config)
            return try KerasImporter.load(path: path, config: config)
        default:
            throw LoupeError(.invalidArgument, "\(path): unknown model format '.\(ext)'; Loupe reads \(extensions.map { "." + $0 }.joined(separator: ", ")) files")
        }
    }

    /// Concrete types for the graph inputs: declared fixed dimensions, `overrides` where
    /// given (NAME → shape), and 1 for symbolic dimensions (the batch size).
    public static func inputTypes(_ g: Graph, overrides: [String: [Int]] = [:]) throws -> [String: TensorType] {
        for name in overrides.keys where !g.inputs.contains(where: { $0.name == name }) {
            throw LoupeError(.invalidArgument, "`overrides` names '\(name)', which is not a graph input (inputs: \(g.inputs.map(\.name).joined(separator: ", ")))")
        }
        var types: [String: TensorType] = [:]
        for i in g.inputs {
            if let s = overrides[i.name] {
                try Tensor.checkedCount(s)
                types[i.name] = TensorType(i.dtype, s)
            } else {
                guard let dims = i.dims else {
                    throw LoupeError(.invalidArgument, "input '\(i.name)' declares no shape; pass `overrides` \(i.name)=1x3x224x224")
                }
                types[i.name] = TensorType(i.dtype, dims.map { $0.value ?? 1 })
            }
        }
        return types
    }
}
