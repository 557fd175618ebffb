import ArgumentParser
import Foundation
import LoupeFormats
import LoupeTensor

/// libhdf5 (1.10) can crash or loop forever on a damaged file: a fuzz run over corrupted
/// Keras `.h5` files saw one segfault and two endless reads in 270 files, inside its reading of
/// variable-length strings, where Loupe cannot catch anything. So the command line first
/// reads HDF5-based model files (`.h5`, `.hdf5`, `.keras`) in a child process, the hidden
/// `loupe check-model`; if that child dies of a signal or does not finish in time, the file
/// is reported as damaged and never opened in this process. Otherwise the real read follows
/// (a clear `LoupeError` from the importer comes from there). The price is reading the file
/// twice. Library users call `ModelFile.load` directly and get no such guard.
enum HDF5Guard {
    /// Seconds the child may take: `LOUPE_HDF5_TIMEOUT`, default 120.
    static var timeout: Double {
        ProcessInfo.processInfo.environment["LOUPE_HDF5_TIMEOUT"].flatMap(Double.init) ?? 120
    }

    static func check(_ path: String, config: String?) throws {
        let ext = (path as NSString).pathExtension.lowercased()
        guard ["h5", "hdf5", "keras"].contains(ext), FileManager.default.fileExists(atPath: path) else { return }
        let env = ProcessInfo.processInfo.environment
        if env["LOUPE_IN_HDF5_GUARD"] != nil { return }
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        child.arguments = ["check-model", path] + (config.map { ["--config", $0] } ?? [])
        var childEnv = env
        childEnv["LOUPE_IN_HDF5_GUARD"] = "1"
        child.environment = childEnv
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        do {
            try child.run()
        } catch {
            return   // cannot start a child: read in process as before
        }
        let limit = timeout
        let deadline = Date().addingTimeInterval(limit)
        while child.isRunning && Date() < deadline { usleep(10_000) }
        if child.isRunning {
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            throw LoupeError(.invalidModel, "\(path): reading this HDF5 file did not finish in \(Int(limit)) s (libhdf5 loops on some damaged files); the file is damaged or not a Keras model (LOUPE_HDF5_TIMEOUT sets the limit)")
        }
        if child.terminationReason == .uncaughtSignal {
            throw LoupeError(.invalidModel, "\(path): libhdf5 crashed (signal \(child.terminationStatus)) reading this file; the file is damaged or not a Keras model")
        }
    }
}

/// `loupe check-model MODEL [--config JSON]`: loads the model and exits 0, or 1 with the
/// error. Hidden: `HDF5Guard` runs it in a child process.
struct CheckModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-model",
        abstract: "Load a model file and report whether it loads (used internally for HDF5 files).",
        shouldDisplay: false
    )

    @Argument(help: "The model file.")
    var model: String

    @Option(help: "Keras architecture JSON for a weights-only .h5 file.")
    var config: String?

    func run() throws {
        #if os(Linux)
        // Die with the parent (a Ctrl-C on `loupe` must not leave a child spinning in libhdf5).
        _ = linuxPrctl(1 /* PR_SET_PDEATHSIG */, UInt(SIGKILL), 0, 0, 0)
        if getppid() == 1 { throw ExitCode(1) }
        #endif
        try runReportingErrors {
            _ = try ModelFile.load(path: model, config: config)
        }
    }
}

#if os(Linux)
/// glibc's `int prctl(int option, ...)`, declared with fixed integer arguments (the variadic
/// C declaration is not imported into Swift).
@_silgen_name("prctl")
private func linuxPrctl(_ option: Int32, _ arg2: UInt, _ arg3: UInt, _ arg4: UInt, _ arg5: UInt) -> Int32
#endif
