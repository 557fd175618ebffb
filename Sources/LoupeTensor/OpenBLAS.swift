import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The one place Loupe touches OpenBLAS: the library is opened at first use (`dlopen`), not
/// linked, so that its kernel family can be chosen first.
///
/// Why: OpenBLAS (built with DYNAMIC_ARCH, as Debian's is) picks its kernels once, when it is
/// loaded, from the CPU's family and model numbers, and a release that does not know a CPU
/// falls back to its oldest kernels. Debian 12's 0.3.21 takes an Intel Xeon of family 6,
/// model 207 (Emerald Rapids) and AMD's Zen 5 for "Prescott" (SSE3): a 100 × 10,000 × 2,048
/// product took 160 ms on one thread there, against 44 ms with its AVX-512 kernels
/// (SkylakeX). So unless the user set `OPENBLAS_CORETYPE`, Loupe sets it from the CPU's
/// instruction sets before opening the library: AVX-512 (F, CD, BW, DQ, VL) gives
/// `SkylakeX`, AVX2 with FMA gives `Haswell`, anything else leaves OpenBLAS's own choice.
/// Newer OpenBLAS releases make the same choices for the CPUs they know (Zen 4: SkylakeX
/// kernels; Zen 2/3: Haswell's). `OPENBLAS_CORETYPE` set by the user always wins, which is
/// how the test suite runs the numeric tests under other kernel families. `OPENBLAS_NUM_THREADS`
/// is set to 1 before opening it (see `Threads`).
///
/// The C interface used (blasint is a 32-bit int in Debian's build; the enums are C ints):
/// `cblas_sgemm(order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)` with
/// RowMajor = 101, NoTrans = 111, Trans = 112; `openblas_set_num_threads(int)`,
/// `openblas_get_num_threads()`, `openblas_get_corename()`; and LAPACK's `dsyevd_` (Fortran
/// calling convention: every argument by pointer).
public enum OpenBLAS {
    typealias SgemmFunction = @convention(c) (
        Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
        UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32) -> Void
    typealias SetThreadsFunction = @convention(c) (Int32) -> Void
    typealias GetThreadsFunction = @convention(c) () -> Int32
    /// LAPACK's `dsyevd_(jobz, uplo, n, a, lda, w, work, lwork, iwork, liwork, info)` (bundled in
    /// OpenBLAS): symmetric eigen-decomposition, for PCA.
    typealias DsyevdFunction = @convention(c) (
        UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<Int32>?, UnsafeMutablePointer<Double>?,
        UnsafePointer<Int32>?, UnsafeMutablePointer<Double>?, UnsafeMutablePointer<Double>?, UnsafePointer<Int32>?,
        UnsafeMutablePointer<Int32>?, UnsafePointer<Int32>?, UnsafeMutablePointer<Int32>?) -> Void
    typealias CoreNameFunction = @convention(c) () -> UnsafeMutablePointer<CChar>?

    struct Library {
        let sgemm: SgemmFunction
        let setThreads: SetThreadsFunction
        let getThreads: GetThreadsFunction
        let dsyevd: DsyevdFunction
        let coreName: CoreNameFunction?
        /// What Loupe set `OPENBLAS_CORETYPE` to, nil when it was left alone.
        let chosenCoreType: String?
    }

    /// Opened once, thread-safely (a global's lazy initialisation), by the first GEMM.
    static let library: Library = open()

    /// The kernel family OpenBLAS runs (`openblas_get_corename`), e.g. "SkylakeX".
    public static var coreName: String {
        guard let f = library.coreName, let p = f() else { return "unknown" }
        return String(cString: p)
    }

    /// OpenBLAS's own thread count (Loupe keeps it at 1; see `Threads`).
    public static var threads: Int { Int(library.getThreads()) }

    /// The `OPENBLAS_CORETYPE` Loupe picks for CPU flags (the `flags` line of /proc/cpuinfo),
    /// nil to leave OpenBLAS's choice.
    static func coreType(forFlags flags: Set<Substring>) -> String? {
        if ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy({ flags.contains(Substring($0)) }) {
            return "SkylakeX"
        }
        if flags.contains("avx2") && flags.contains("fma") { return "Haswell" }
        return nil
    }

    static func cpuFlags() -> Set<Substring> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " "))
    }

    private static func open() -> Library {
        var chosen: String? = nil
        let current = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? ""
        if current.isEmpty, let type = coreType(forFlags: cpuFlags()) {
            setenv("OPENBLAS_CORETYPE", type, 1)
            chosen = type
        }
        // One thread, from the start: OpenBLAS creates its worker pool when it is loaded, and
        // each worker spins in `sched_yield` for about 0.1 s before it sleeps, taking a core
        // from Loupe's own threads (a third of a 2-thread nearest-neighbour search), although
        // `Threads` never lets OpenBLAS use them.
        setenv("OPENBLAS_NUM_THREADS", "1", 1)
        var handle: UnsafeMutableRawPointer? = nil
        var errors: [String] = []
        for name in ["libopenblas.so.0", "libopenblas.so", "libopenblas.dylib"] {
            handle = dlopen(name, RTLD_NOW | RTLD_LOCAL)
            if handle != nil { break }
            if let e = dlerror() { errors.append(String(cString: e)) }
        }
        guard let handle else {
            fatalError("Loupe needs OpenBLAS (Debian: apt-get install libopenblas-dev, which Scripts/setup.sh does): \(errors.joined(separator: "; "))")
        }
        func symbol<T>(_ name: String, as: T.Type) -> T? {
            dlsym(handle, name).map { unsafeBitCast($0, to: T.self) }
        }
        guard let sgemm = symbol("cblas_sgemm", as: SgemmFunction.self),
              let setThreads = symbol("openblas_set_num_threads", as: SetThreadsFunction.self),
              let getThreads = symbol("openblas_get_num_threads", as: GetThreadsFunction.self),
              let dsyevd = symbol("dsyevd_", as: DsyevdFunction.self) else {
            fatalError("the OpenBLAS library found lacks cblas_sgemm, openblas_set_num_threads or LAPACK's dsyevd_")
        }
        return Library(sgemm: sgemm, setThreads: setThreads, getThreads: getThreads, dsyevd: dsyevd,
                       coreName: symbol("openblas_get_corename", as: CoreNameFunction.self), chosenCoreType: chosen)
    }
}
