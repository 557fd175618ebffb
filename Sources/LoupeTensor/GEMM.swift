import COpenBLAS

/// The one place Loupe calls BLAS. Row-major single-precision GEMM:
/// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, with leading dimensions lda, ldb, ldc.
@inline(__always)
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
    cblas_sgemm(
        CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
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

/// Loupe's single threading policy: OpenBLAS threads for GEMM, and the same count for
/// Loupe's own parallel loops (never both at once: kernels call one or the other).
public enum Threads {
    nonisolated(unsafe) public private(set) static var count: Int = 1

    /// Runs `body` with OpenBLAS limited to one thread when `single` is true, for kernels that
    /// split work across Loupe's own threads and call `sgemm` from each.
    public static func withSingleThreadedBLAS(_ single: Bool, _ body: () -> Void) {
        guard single, count > 1 else { body(); return }
        openblas_set_num_threads(1)
        body()
        openblas_set_num_threads(Int32(count))
    }

    /// Sets the number of threads; `nil` means the number of online processors.
    public static func set(_ n: Int?) {
        let c = max(1, n ?? ProcessInfoCores.online)
        count = c
        openblas_set_num_threads(Int32(c))
    }
}

import Foundation

enum ProcessInfoCores {
    static var online: Int { ProcessInfo.processInfo.activeProcessorCount }
}

/// Runs `body(i)` for i in 0..<n on up to `Threads.count` threads.
@inline(__always)
public func parallelFor(_ n: Int, _ body: (Int) -> Void) {
    let t = min(Threads.count, n)
    if t <= 1 {
        for i in 0..<n { body(i) }
        return
    }
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: t) { w in
            var i = w
            while i < n { body(i); i += t }
        }
    }
}
