import Foundation
import LoupeTensor

/// libhdf5 (1.10) can crash or loop forever on a damaged file: a fuzz run over corrupted
/// Keras `.h5` files saw one segfault and two endless reads in 270 files, inside its reading
/// of variable-length strings, where Loupe cannot catch anything (docs/keras.md). So
/// `ModelFile.load` first reads an HDF5-based model file (`.h5`, `.hdf5`, `.keras`) in a child
/// process; if that child dies of a signal or does not finish in time, the file is reported as
/// damaged and never opened in the calling process. Otherwise the real read follows (a clear
/// `LoupeError` from the importer comes from there). The price is reading the file twice.
///
/// The child is a checker program started with `posix_spawn` (through `Process`), never a
/// `fork` of a multi-threaded Swift process. It is found, in this order:
/// 1. `HDF5Guard.checker`, set by the host program (the `loupe` command sets itself and its
///    hidden `check-model` subcommand, so the single binary guards on its own);
/// 2. the `LOUPE_HDF5_CHECKER` environment variable, a path to `loupe-check-model`;
/// 3. `loupe-check-model` next to the running executable (SwiftPM builds it beside every
///    product and test bundle of this package).
/// Without a checker, `ModelFile.load` refuses HDF5 files with an error saying so, unless the
/// caller chose the unguarded mode (`HDF5Guard.enabled = false`, or `LOUPE_HDF5_GUARD=off`),
/// which reads in process as any HDF5 library does.
public enum HDF5Guard {
    /// The checker command (executable, then leading arguments); the file path and, for a
    /// weights-only file, `--config JSON` are appended. Nil: look it up (see above).
    public static var checker: [String]?

    /// False reads HDF5 files in process, unguarded. Default: true unless `LOUPE_HDF5_GUARD=off`.
    public static var enabled: Bool = ProcessInfo.processInfo.environment["LOUPE_HDF5_GUARD"] != "off"

    /// Seconds the child may take: `LOUPE_HDF5_TIMEOUT`, default 120.
    public static var timeout: Double = ProcessInfo.processInfo.environment["LOUPE_HDF5_TIMEOUT"].flatMap(Double.init) ?? 120

    /// The name of the checker program next to the executable.
    public static let helperName = "loupe-check-model"

    /// Set in the child's environment so that the child reads the file itself.
    static let childMarker = "LOUPE_IN_HDF5_GUARD"

    /// Whether `ModelFile.load` guards a file with extension `ext`.
    static func applies(toExtension ext: String) -> Bool { ["h5", "hdf5", "keras"].contains(ext) }

    /// Reads `path` in a child process first; throws if the child crashed or hung.
    static func check(_ path: String, config: String?) throws {
        guard enabled, ProcessInfo.processInfo.environment[childMarker] == nil,
              FileManager.default.fileExists(atPath: path) else { return }
        guard let command = resolveChecker() else {
            throw LoupeError(.unsupported, "\(path): reading an HDF5 file safely needs the checker program \(helperName) (built with Loupe) next to this program or named by LOUPE_HDF5_CHECKER; set LOUPE_HDF5_GUARD=off (or HDF5Guard.enabled = false) to read it in this process without the guard")
        }
        let child = Process()
        child.executableURL = URL(fileURLWithPath: command[0])
        child.arguments = Array(command.dropFirst()) + [path] + (config.map { ["--config", $0] } ?? [])
        var env = ProcessInfo.processInfo.environment
        env[childMarker] = "1"
        child.environment = env
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        do {
            try child.run()
        } catch {
            throw LoupeError(.io, "\(path): cannot start the HDF5 checker \(command[0]) (\(error.localizedDescription))")
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

    static func resolveChecker() -> [String]? {
        if let checker, !checker.isEmpty { return checker }
        let fm = FileManager.default
        if let path = ProcessInfo.processInfo.environment["LOUPE_HDF5_CHECKER"], fm.isExecutableFile(atPath: path) { return [path] }
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let beside = exe.deletingLastPathComponent().appendingPathComponent(helperName).path
        return fm.isExecutableFile(atPath: beside) ? [beside] : nil
    }

    /// The checker's whole job: load `path` in this process and return the exit status (0:
    /// it loads, 1: a `LoupeError`, printed on stderr). It dies with its parent, so an
    /// interrupted caller leaves no child spinning in libhdf5.
    public static func runChild(path: String, config: String?) -> Int32 {
        #if os(Linux)
        _ = linuxPrctl(1 /* PR_SET_PDEATHSIG */, UInt(SIGKILL), 0, 0, 0)
        if getppid() == 1 { return 1 }
        #endif
        setenv(childMarker, "1", 1)
        do {
            _ = try ModelFile.load(path: path, config: config)
            return 0
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            return 1
        }
    }
}

#if os(Linux)
/// glibc's `int prctl(int option, ...)`, declared with fixed integer arguments (the variadic
/// C declaration is not imported into Swift).
@_silgen_name("prctl")
private func linuxPrctl(_ option: Int32, _ arg2: UInt, _ arg3: UInt, _ arg4: UInt, _ arg5: UInt) -> Int32
#endif
