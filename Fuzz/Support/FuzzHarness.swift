import Foundation
import LoupeFormats
import LoupeTensor
#if canImport(Glibc)
import Glibc
#endif

/// What every fuzz target shares (docs/fuzzing.md). A target hands libFuzzer's bytes to one
/// real reader; the reader either returns or throws a `LoupeError` (the expected answer to a
/// bad file). Any other outcome is a finding: a crash or an AddressSanitizer report (libFuzzer
/// saves the input), a hang (`-timeout`), an allocation past `-rss_limit_mb`, or an error that
/// is not a `LoupeError` (a Foundation error domain leaking to the user), which `check` turns
/// into a crash so that libFuzzer keeps the input.
public enum FuzzHarness {
    /// The limits the fuzz targets run under: lower than the defaults so that an allocation at
    /// the limit fits libFuzzer's `-rss_limit_mb` (2048 MB in Scripts/fuzz.sh) with AddressSanitizer's
    /// overhead; the code paths that enforce them are the same as at the default values.
    public static let maxElements = 1 << 26   // 256 MiB of float32 per tensor
    public static let maxPixels = 1 << 24     // 4096 x 4096

    /// Lowers the limits once per process.
    public static let setUp: Void = {
        LoupeConfiguration.update { $0.maxElements = maxElements }
        HDF5Guard.enabled = false  // the fuzz process plays the guard's child; see fuzz-keras-h5
    }()

    /// Runs `body`, accepting a thrown `LoupeError` and nothing else.
    public static func check(_ body: () throws -> Void) {
        _ = setUp
        do {
            try body()
        } catch is LoupeError {
        } catch {
            fatalError("the reader threw \(type(of: error)), not a LoupeError: \(error)")
        }
    }

    /// A private folder for this process in /dev/shm (memory, not disk), made once.
    public static let folder: String = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let path = "\(base)/loupe-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: FuzzHarness.folder) }
        return path
    }()

    /// Writes the input to `folder/input.EXT` (for readers that take a path) and returns the path.
    public static func file(_ data: UnsafeRawBufferPointer, ext: String) -> String {
        let path = "\(folder)/input.\(ext)"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        precondition(fd >= 0, "cannot create \(path)")
        var done = 0
        while done < data.count {
            let n = write(fd, data.baseAddress! + done, data.count - done)
            precondition(n > 0, "cannot write \(path)")
            done += n
        }
        close(fd)
        return path
    }

    /// The input as `Data` (copied).
    public static func data(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> Data {
        guard let bytes, size > 0 else { return Data() }
        return Data(bytes: bytes, count: size)
    }

    /// The input as a raw buffer (not copied).
    public static func raw(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: bytes, count: bytes == nil ? 0 : size)
    }
}

extension FuzzHarness {
    /// Writes a fixed file beside the input (e.g. external data an ONNX model may name).
    public static func besideInput(_ name: String, bytes: [UInt8]) {
        FileManager.default.createFile(atPath: "\(folder)/\(name)", contents: Data(bytes))
    }
}
