import Foundation
import LoupeTensor
#if canImport(Glibc)
import Glibc
#endif

/// Writes the files Loupe produces (`.npy` tensors, PNG pictures), with errors that name the
/// path and say in plain words what is wrong: a missing folder, a folder in the way,
/// permission denied. Whether an existing file may be replaced is the caller's decision
/// (the command line asks for `--force`).
public enum OutputFile {
    /// Throws unless the folder that would hold `path` exists and is a folder.
    public static func checkFolder(_ path: String, as what: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        guard !folder.isEmpty else { return }
        var info = stat()
        guard stat(folder, &info) == 0 else {
            let code = errno
            let cause = code == ENOENT ? "the folder '\(folder)' does not exist" : "the folder '\(folder)': \(InputFile.cause(errno: code))"
            throw LoupeError(.io, "cannot write \(what) '\(path)': \(cause)")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw LoupeError(.io, "cannot write \(what) '\(path)': '\(folder)' is not a folder")
        }
        if stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
            throw LoupeError(.io, "cannot write \(what) '\(path)': it is a directory")
        }
    }

    /// Writes `data` to `path`, replacing the file if there is one.
    public static func write(_ data: Data, to path: String, as what: String) throws {
        try checkFolder(path, as: what)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LoupeError(.io, "cannot write \(what) '\(path)': \(InputFile.cause(errno: errno))") }
        defer { close(fd) }
        let failure: Int32? = data.withUnsafeBytes { buf in
            var done = 0
            while done < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + done, buf.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                done += n
            }
            return nil
        }
        if let failure { throw LoupeError(.io, "cannot write \(what) '\(path)': \(InputFile.cause(errno: failure))") }
    }
}
