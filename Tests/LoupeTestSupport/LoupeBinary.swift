import Foundation

/// The built `loupe` binary, run as a user runs it: the CLI tests of every test target go
/// through here.
public enum LoupeBinary {
    public struct Result {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// Seconds from start to exit.
        public var seconds: Double
        /// The run was killed after the timeout given to `run`.
        public var timedOut: Bool
    }

    /// The repository's root folder.
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The products directory holds the xctest bundle (on Linux an executable) and `loupe`.
    public static var url: URL {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("loupe")
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDir), !isDir.boolValue { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return Bundle.main.bundleURL.appendingPathComponent("loupe")
    }

    /// Runs the binary with `args` (and extra `environment` variables). With `timeout`, a run
    /// still going after that many seconds is killed and comes back with `timedOut` set, so a
    /// hang fails its test instead of stopping the suite.
    public static func run(_ args: [String], environment: [String: String] = [:], timeout: Double? = nil) throws -> Result {
        try run(executable: url, args, environment: environment, timeout: timeout)
    }

    /// The same for any program (a browser that opens the report, say).
    public static func run(executable: URL, _ args: [String], environment: [String: String] = [:], timeout: Double? = nil) throws -> Result {
        let p = Process()
        p.executableURL = executable
        p.arguments = args
        if !environment.isEmpty {
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let start = Date()
        try p.run()
        let killed = KilledFlag()
        if let timeout {
            let pid = p.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                if p.isRunning { killed.set(); kill(pid, SIGKILL) }
            }
        }
        // Read both pipes at once: a child that fills one while the other is drained blocks.
        let errData = DataBox()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { errData.data = err.fileHandleForReading.readDataToEndOfFile() }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let e = errData.data
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self),
                      seconds: Date().timeIntervalSince(start), timedOut: killed.value)
    }
}

private final class DataBox: @unchecked Sendable {
    var data = Data()  // written by one reader, read after `group.wait()`
}

private final class KilledFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    func set() { lock.lock(); flag = true; lock.unlock() }
    var value: Bool { lock.lock(); defer { lock.unlock() }; return flag }
}
