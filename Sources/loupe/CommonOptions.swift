import ArgumentParser
import Foundation
import LoupeFormats
import LoupeGraph
import LoupeTensor

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    // `.unconditional`: the next argument is the value even when it starts with '-', so that
    // `--threads -2` reaches `validate()` instead of being taken for an unknown flag.
    @Option(name: .long, parsing: .unconditional, help: "Number of CPU threads for the kernels, 1 to 1024 (default: all cores).")
    var threads: Int?

    @Option(name: .long, help: ArgumentHelp("Keras architecture JSON for a weights-only .h5 model file.", valueName: "model.json"))
    var config: String?

    @Flag(name: .long, help: "Run every convolution by the direct algorithm. By default 3x3 stride-1 convolutions use Winograd's algorithm where oneDNN has a kernel for this CPU (AVX-512) and it is faster; its results differ from the direct kernels' by about 1e-6 relative.")
    var exact = false

    func validate() throws {
        if let t = threads, t < 1 || t > 1024 {
            throw ValidationError("--threads must be between 1 and 1024, got \(t).")
        }
    }

    func apply() {
        Threads.set(threads)
        if exact { LoupeConfiguration.update { $0.winograd = false } }
    }
}

/// Runs a command body, turning Loupe errors into a clear message and exit code 1.
func runReportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as LoupeError {
        FileHandle.standardError.write(Data("loupe: error: \(FlagNames.map(e).message)\n".utf8))
        throw ExitCode(1)
    }
}

/// Loads a model, prefixing errors with its path when the importer did not. HDF5 files are
/// checked by this same binary's hidden `check-model` in a child process (`HDF5Guard`).
func loadModel(_ path: String, config: String? = nil) throws -> Graph {
    if HDF5Guard.checker == nil {
        HDF5Guard.checker = [URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path, CheckModel.configuration.commandName!]
    }
    do {
        return try ModelFile.load(path: path, config: config)
    } catch let e as LoupeError {
        let name = (path as NSString).lastPathComponent
        throw e.message.hasPrefix(name) || e.message.hasPrefix(path) || e.message.contains("'\(path)'") ? e : e.context(path)
    }
}

/// Builds the executor, naming the model file in any error (an unsupported op, say).
func makeExecutor(_ graph: Graph, path: String) throws -> Executor {
    do {
        return try Executor(graph: graph)
    } catch let e as LoupeError {
        throw e.context(path)
    }
}

/// Parses `HxW` (e.g. `16x16`) into positive (height, width).
func parseHxW(_ s: String, _ flag: String) throws -> (Int, Int) {
    let p = s.split(separator: "x").map { Int($0) }
    guard p.count == 2, let h = p[0], let w = p[1], h > 0, w > 0 else {
        throw ValidationError("\(flag) expects HxW such as 16x16, got '\(s)'")
    }
    return (h, w)
}

/// Parses `NAME=1x3x224x224`, or `1x3x224x224` (name "": the model's only input).
func parseShapeAssignment(_ s: String) throws -> (String, [Int]) {
    let eq = s.lastIndex(of: "=")
    let name = eq.map { String(s[..<$0]) } ?? ""
    let dims = s[(eq.map { s.index(after: $0) } ?? s.startIndex)...].split(separator: "x").map { Int($0) }
    if eq == nil, !dims.allSatisfy({ $0 != nil }) {
        throw ValidationError("expected NAME=DIMS such as input=1x3x224x224 (or DIMS alone for a model with one input), got '\(s)'")
    }
    guard !dims.isEmpty, dims.allSatisfy({ $0 != nil && $0! >= 0 }) else {
        throw ValidationError("'\(s)': dimensions must be non-negative integers separated by 'x'")
    }
    return (name, dims.map { $0! })
}

/// Progress on stderr, only when stderr is a terminal.
struct Progress {
    let label: String
    let enabled = isatty(2) != 0

    func update(_ done: Int, _ total: Int) {
        guard enabled, total > 0 else { return }
        let msg = "\r\(label) \(done)/\(total)" + (done == total ? "\n" : "")
        FileHandle.standardError.write(Data(msg.utf8))
    }
}

/// Writes a file only if it does not exist yet, or if `force` is set.
func checkWritable(_ path: String, force: Bool) throws {
    if FileManager.default.fileExists(atPath: path) && !force {
        throw LoupeError(.invalidArgument, "\(path) exists; pass --force to overwrite it")
    }
    // A missing folder is found before any work (and before other outputs are written),
    // in the words the writers use (`OutputFile.checkFolder`).
    let kinds = ["png": "PNG", "npy": "npy file", "h5": "HDF5 file", "html": "HTML page", "json": "JSON file"]
    try OutputFile.checkFolder(path, as: kinds[(path as NSString).pathExtension.lowercased()] ?? "file")
}

func printJSON<T: Encodable>(_ value: T) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try enc.encode(value), as: UTF8.self))
}

/// A line for the user on stderr, beside the command's output: "loupe: MESSAGE".
func note(_ message: String) {
    FileHandle.standardError.write(Data("loupe: \(message)\n".utf8))
}
