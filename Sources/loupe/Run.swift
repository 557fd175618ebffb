import ArgumentParser
import Foundation
import LoupeFormats
import LoupeGraph
import LoupeTensor

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a model on tensors from files and write every graph output as .npy.",
        discussion: """
            Each --input gives a graph input as NAME=FILE, where FILE is a NumPy .npy file or a \
            serialized ONNX TensorProto (.pb). Each graph output is written to \
            DIR/<name>.npy, with every character of the name outside [A-Za-z0-9._-] replaced \
            by '_'. Existing files are not overwritten unless --force is given.

            Example:
              loupe run model.onnx --input input=x.npy --output-dir out/
            """)

    @Argument(help: "The model file (.onnx, .h5 or .keras).")
    var model: String

    @Option(name: .customLong("input"), help: "A graph input as NAME=FILE (.npy or .pb). Repeat for several inputs.")
    var inputs: [String] = []

    @Option(name: .customLong("output-dir"), help: "Folder for the output .npy files (created if missing).")
    var outputDir: String

    @Flag(help: "Overwrite existing output files.")
    var force = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        for i in inputs where !i.contains("=") {
            throw ValidationError("--input expects NAME=FILE, got '\(i)'")
        }
    }

    func run() throws {
        global.apply()
        try runReportingErrors {
            let g = try loadModel(model, config: global.config)
            var feeds: [String: Tensor] = [:]
            for spec in inputs {
                let eq = spec.firstIndex(of: "=")!
                let name = String(spec[..<eq]), file = String(spec[spec.index(after: eq)...])
                guard g.inputs.contains(where: { $0.name == name }) else {
                    throw LoupeError(.invalidArgument, "--input names '\(name)', which is not a graph input (inputs: \(g.inputs.map(\.name).joined(separator: ", ")))")
                }
                feeds[name] = try readTensorFile(file)
            }
            let exec = try makeExecutor(g, path: model)
            let outputs = try exec.run(feeds)
            try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
            let targets = g.outputs.map { ($0.name, (outputDir as NSString).appendingPathComponent(safeFileName($0.name) + ".npy")) }
            for (_, path) in targets { try checkWritable(path, force: force) }
            for (name, path) in targets {
                try NPY.write(outputs[name]!, path: path)
                print("\(name) \(outputs[name]!.dtype.name)\(describe(outputs[name]!.shape)) -> \(path)")
            }
        }
    }
}

/// Reads a tensor from `.npy` or a serialized TensorProto `.pb`.
func readTensorFile(_ path: String) throws -> Tensor {
    if path.lowercased().hasSuffix(".pb") { return try ONNXImporter.loadTensor(path: path) }
    return try NPY.read(path: path)
}

/// A tensor name made safe as a file name: characters outside [A-Za-z0-9._-] become '_'.
func safeFileName(_ name: String) -> String {
    String(name.unicodeScalars.map { c -> Character in
        let ok = (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "." || c == "_" || c == "-"
        return ok ? Character(c) : "_"
    })
}
