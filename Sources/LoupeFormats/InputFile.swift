import Foundation
import LoupeTensor
#if canImport(Glibc)
import Glibc
#endif

/// Reads the files Loupe takes as input (models, images, `.npy` tensors, labels, Keras
/// configs), in one place that turns the system's answer into plain words: every error names
/// the file's role and path and says what is wrong with it ("no such file or directory", "is
/// a directory", "permission denied", ...), never a Foundation error domain.
///
/// Only regular files are read: a directory, a FIFO or a device (`/dev/zero` would never end)
/// is refused before a byte is read, and so is a file larger than the caller's `maxBytes`.
public enum InputFile {
    /// The largest text file Loupe reads (labels lists, Keras architecture JSON): 64 MiB, some
    /// thirty times the largest real ones (ImageNet-21k's labels are about 0.5 MB, the
    /// EfficientNetB7 config about 2 MB).
    public static let maxTextBytes = 64 << 20

    /// The whole file at `path`. `what` names its role in messages ("image", "model", ...).
    /// With `mapped`, the file is memory-mapped instead of copied (for model files, whose
    /// weights are copied out once anyway).
    public static func read(_ path: String, as what: String, maxBytes: Int = .max, mapped: Bool = false) throws -> Data {
        let (fd, size) = try open(path, as: what, maxBytes: maxBytes)
        defer { close(fd) }
        func fail(_ cause: String) -> LoupeError { LoupeError(.io, "cannot read \(what) '\(path)': \(cause)") }
        if size == 0 { return Data() }
        if mapped {
            let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
            guard let p, p != MAP_FAILED else { throw fail(cause(errno: errno)) }
            return Data(bytesNoCopy: p, count: size, deallocator: .custom { p, n in munmap(p, n) })
        }
        var data = Data(count: size)
        var filled = 0
        let failure: Int32? = data.withUnsafeMutableBytes { buf in
            while filled < size {
                let n = Glibc.read(fd, buf.baseAddress! + filled, size - filled)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                if n == 0 { break }  // the file shrank while being read: hand on what there is
                filled += n
            }
            return nil
        }
        if let failure { throw fail(cause(errno: failure)) }
        if filled < size { data.count = filled }
        return data
    }

    /// Checks that `path` is a regular file Loupe may open, for readers that open it through a
    /// C library (HDF5); returns its size in bytes.
    @discardableResult
    public static func check(_ path: String, as what: String, maxBytes: Int = .max) throws -> Int {
        let (fd, size) = try open(path, as: what, maxBytes: maxBytes)
        close(fd)
        return size
    }

    /// Opens `path` read-only after the checks above; returns the descriptor and the size.
    private static func open(_ path: String, as what: String, maxBytes: Int) throws -> (Int32, Int) {
        func fail(_ cause: String, _ kind: LoupeError.Kind = .io) -> LoupeError {
            LoupeError(kind, "cannot read \(what) '\(path)': \(cause)")
        }
        guard !path.isEmpty else { throw LoupeError(.io, "cannot read \(what): the path is empty") }
        // O_NONBLOCK: opening a FIFO without a writer must not hang; it is refused below.
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw fail(cause(errno: errno)) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw fail(cause(errno: code))
        }
        let size = Int(info.st_size)
        let problem: LoupeError?
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            problem = size <= maxBytes ? nil
                : fail("it holds \(size) bytes, more than the \(maxBytes) bytes Loupe reads from \(article(what)) \(what)", .tooLarge)
        case S_IFDIR: problem = fail("it is a directory, not a file")
        default: problem = fail("it is not a regular file (a device, pipe or socket)")
        }
        if let problem {
            close(fd)
            throw problem
        }
        return (fd, size)
    }

    /// The whole file at `path` as UTF-8 text, at most `maxTextBytes`.
    public static func text(_ path: String, as what: String) throws -> String {
        let data = try read(path, as: what, maxBytes: maxTextBytes)
        guard let s = String(data: data, encoding: .utf8) else {
            throw LoupeError(.invalidArgument, "cannot read \(what) '\(path)': it is not UTF-8 text")
        }
        return s
    }

    /// Plain words for the `errno` of a failed `open`, `stat`, `read`, `write` or `mmap`.
    public static func cause(errno code: Int32) -> String {
        switch code {
        case ENOENT: "no such file or directory"
        case EACCES, EPERM: "permission denied"
        case EISDIR: "it is a directory, not a file"
        case ENOTDIR: "a part of the path is not a directory"
        case ELOOP: "too many levels of symbolic links"
        case ENAMETOOLONG: "the path is too long"
        case EMFILE, ENFILE: "too many open files"
        case ENOMEM: "out of memory"
        case EIO: "an input/output error from the disk"
        case ENOSPC: "no space left on the device"
        case EROFS: "the file system is read-only"
        default: String(cString: strerror(code)).lowercased()
        }
    }

    private static func article(_ word: String) -> String {
        "aeiou".contains(word.first ?? "x") ? "an" : "a"
    }
}
