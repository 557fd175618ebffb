/// The one place Loupe calls BLAS. Row-major single-precision GEMM:
/// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, with leading dimensions lda, ldb, ldc.
///
/// OpenBLAS always runs single-threaded (see `Threads`). Called inside a `parallelFor` body
/// (on any number of threads), a product is one OpenBLAS call on the calling thread; outside
/// one, a large product is cut into parts by rows of C or by columns, whichever is longer,
/// each one OpenBLAS call, run on Loupe's threads. How many parts depends only on the shape
/// (`gemmParts`), never on the thread count:
/// OpenBLAS rounds a row or column differently depending on the size of the call it is in
/// (its kernels handle the edges of a block apart), so cutting by the thread count made
/// results depend on `--threads` (issue 17 point 7; `ThreadCountDeterminismTests`).
public func sgemm(
    transA: Bool = false, transB: Bool = false,
    m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    guard m > 0, n > 0 else { return }
    if k == 0 {
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
        return
    }
    let parts = ParallelRegion.isInBody ? 1 : gemmParts(m: m, n: n, k: k)
    if parts <= 1 {
        cblasSgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    }
    let run: (Int) -> Void
    if m >= n {
        // Rows r0..<r1 of op(A) and C.
        run = { p in
            let r0 = p * m / parts, r1 = (p + 1) * m / parts
            cblasSgemm(transA, transB, r1 - r0, n, k, alpha, transA ? a + r0 : a + r0 * lda, lda,
                       b, ldb, beta, c + r0 * ldc, ldc)
        }
    } else {
        // Columns j0..<j1 of op(B) and C.
        run = { p in
            let j0 = p * n / parts, j1 = (p + 1) * n / parts
            cblasSgemm(transA, transB, m, j1 - j0, k, alpha, a, lda,
                       transB ? b + j0 * ldb : b + j0, ldb, beta, c + j0, ldc)
        }
    }
    parallelFor(parts, run)
}

/// How many parts `sgemm` cuts an m×n×k product into: 1 below `gemmSplitMinMACs`
/// multiply-accumulates, else as many as keep `gemmSplitMinSide` rows (or columns) each, at
/// most `gemmMaxParts`. A function of the shape and the configuration's constants only.
func gemmParts(m: Int, n: Int, k: Int) -> Int {
    let config = LoupeConfiguration.current
    guard m * n * k >= config.gemmSplitMinMACs else { return 1 }
    return max(1, min(config.gemmMaxParts, max(m, n) / config.gemmSplitMinSide))
}

@inline(__always)
func cblasSgemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    Threads.applyPolicy()
    // CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112 (see OpenBLAS.swift).
    OpenBLAS.library.sgemm(
        101, transA ? 112 : 111, transB ? 112 : 111,
        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// The algorithmic reference for `sgemm` (no transposes): kept for tests and as a fallback.
public func sgemmNaive(
    m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>
) {
    for i in 0..<m {
        for j in 0..<n {
            var s: Double = 0
            for p in 0..<k { s += Double(a[i * k + p]) * Double(b[p * n + j]) }
            c[i * n + j] = Float(s)
        }
    }
}

/// Loupe's threading policy: OpenBLAS always runs on one thread, and Loupe splits work
/// (GEMMs included, see `sgemm`) across `count` threads of its own. OpenBLAS's own pool is
/// never used: its idle workers spin in `sched_yield` after each threaded call, which on a
/// machine with few cores takes time from the threads doing the work.
///
/// The policy holds without any call: the thread count is `LoupeConfiguration.current.threads`
/// (default: the online processors), and OpenBLAS is made single-threaded once, before its
/// first use (`applyPolicy`, called by the one `cblas_sgemm` call site).
public enum Threads {
    /// The threads `parallelFor` uses: `LoupeConfiguration.current.threads`.
    public static var count: Int { LoupeConfiguration.current.threads }

    /// Sets the configuration's thread count; `nil` means the number of online processors.
    public static func set(_ n: Int?) {
        LoupeConfiguration.update { $0.threads = max(1, n ?? ProcessInfoCores.online) }
        applyPolicy()
    }

    /// Makes OpenBLAS single-threaded; runs once, however often it is called.
    @inline(__always)
    static func applyPolicy() { _ = blasSingleThreaded }

    private static let blasSingleThreaded: Void = { OpenBLAS.library.setThreads(1) }()
}

import Foundation

enum ProcessInfoCores {
    static var online: Int { ProcessInfo.processInfo.activeProcessorCount }
}

/// Runs `body(i)` for i in 0..<n on up to `Threads.count` threads.
///
/// A `parallelFor` inside another one's body (im2col inside a conv tile worker, say) runs
/// serially on its thread: every thread is already busy, and a nested
/// `concurrentPerform` would only add wake-ups and context switches.
@inline(__always)
public func parallelFor(_ n: Int, _ body: (Int) -> Void) {
    let t = min(Threads.count, n)
    if t <= 1 || ParallelRegion.isInside {
        let outer = ParallelRegion.enterBody()
        defer { ParallelRegion.leaveBody(outer) }
        for i in 0..<n { body(i) }
        return
    }
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: t) { w in
            let outer = ParallelRegion.enter()
            let outerBody = ParallelRegion.enterBody()
            defer { ParallelRegion.leave(outer); ParallelRegion.leaveBody(outerBody) }
            var i = w
            while i < n { body(i); i += t }
        }
    }
}

/// Whether the current thread is running a `parallelFor` body (a pthread-specific flag).
enum ParallelRegion {
    static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()
    /// Any non-nil pointer marks "inside".
    nonisolated(unsafe) static let marker = UnsafeMutableRawPointer(bitPattern: 1)!

    static var isInside: Bool { pthread_getspecific(key) != nil }

    /// Marks the thread as inside; returns the previous value for `leave`.
    static func enter() -> UnsafeMutableRawPointer? {
        let previous = pthread_getspecific(key)
        pthread_setspecific(key, marker)
        return previous
    }

    static func leave(_ previous: UnsafeMutableRawPointer?) {
        pthread_setspecific(key, previous)
    }

    /// Whether the thread runs a `parallelFor` body, on however many threads the loop runs
    /// (`isInside` is only set when it runs on several). `sgemm` reads this one, so that how
    /// it cuts a product does not depend on the thread count.
    static let bodyKey: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()

    static var isInBody: Bool { pthread_getspecific(bodyKey) != nil }

    static func enterBody() -> UnsafeMutableRawPointer? {
        let previous = pthread_getspecific(bodyKey)
        pthread_setspecific(bodyKey, marker)
        return previous
    }

    static func leaveBody(_ previous: UnsafeMutableRawPointer?) {
        pthread_setspecific(bodyKey, previous)
    }
}

/// Eigen-decomposition of a symmetric n × n float64 matrix `a` (row-major; symmetric, so
/// the layout does not matter) by LAPACK's divide and conquer `dsyevd` (OpenBLAS, one
/// thread): eigenvalues ascending, and eigenvector k as row k of `vectors` (n × n).
/// nil when LAPACK reports a failure to converge.
public func symmetricEigen(_ a: [Double], n: Int) -> (values: [Double], vectors: [Double])? {
    precondition(a.count == n * n, "symmetricEigen: \(a.count) values for \(n) x \(n)")
    guard n > 0 else { return ([], []) }
    Threads.applyPolicy()
    var m = a, w = [Double](repeating: 0, count: n)
    var nn = Int32(n), lda = Int32(n), info: Int32 = 0
    var lwork: Int32 = -1, liwork: Int32 = -1
    var workSize = 0.0
    var iworkSize: Int32 = 0
    // Workspace query, then the decomposition.
    let dsyevd = OpenBLAS.library.dsyevd
    var jobz = CChar(UInt8(ascii: "V")), uplo = CChar(UInt8(ascii: "U"))
    dsyevd(&jobz, &uplo, &nn, &m, &lda, &w, &workSize, &lwork, &iworkSize, &liwork, &info)
    guard info == 0 else { return nil }
    lwork = Int32(workSize)
    liwork = iworkSize
    var work = [Double](repeating: 0, count: Int(lwork))
    var iwork = [Int32](repeating: 0, count: Int(liwork))
    dsyevd(&jobz, &uplo, &nn, &m, &lda, &w, &work, &lwork, &iwork, &liwork, &info)
    guard info == 0 else { return nil }
    return (w, m)
}
