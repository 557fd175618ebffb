import CDNNL

/// A row-major single-precision GEMM through oneDNN's JIT `dnnl_sgemm`, with `sgemm`'s
/// arguments: C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C.
///
/// oneDNN's kernels are chosen by Loupe's ISA path (`ISAPath`, `LOUPE_ISA`), never by
/// OpenBLAS's detection, and for the thin products of a nearest-neighbour search (100 rows of
/// queries against thousands of items) they run several times faster than OpenBLAS 0.3.21's
/// (docs/neighbors.md). Their summation order depends on the ISA path and on the OpenMP team
/// (one thread inside a `parallelFor` body, Loupe's thread count outside), so the rounding can
/// differ between machines and `--threads` values: only for callers that bound the error of
/// any summation order themselves and stay exact whatever it is (`NearestNeighbors`). Falls
/// back to `sgemm` when oneDNN refuses the call.
public func sgemmAnyOrder(
    transA: Bool = false, transB: Bool = false,
    m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    guard m > 0, n > 0 else { return }
    if k > 0, (try? ISAPath.current()) != nil {
        OneDNN.applyThreads()
        let status = dnnl_sgemm(CChar(UInt8(ascii: transA ? "T" : "N")), CChar(UInt8(ascii: transB ? "T" : "N")),
                                Int64(m), Int64(n), Int64(k), alpha, a, Int64(lda), b, Int64(ldb), beta, c, Int64(ldc))
        if status == dnnl_success { return }
    }
    sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
          beta: beta, c: c, ldc: ldc)
}

/// Has oneDNN generate `sgemmAnyOrder`'s kernels now (about 30 ms on first use; a 32³ product
/// on one OpenMP thread), so that a caller can overlap it with other work, such as reading
/// the features, on another thread. Safe to call from any thread, any number of times.
public func prepareSgemmAnyOrder() {
    guard (try? ISAPath.current()) != nil else { return }
    if let omp = OneDNN.openMP, omp.get() != 1 { omp.set(1) }
    let n = 32
    let a = [Float](repeating: 0, count: n * n)
    var c = [Float](repeating: 0, count: n * n)
    for transB in [true, false] {
        _ = dnnl_sgemm(CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: transB ? "T" : "N")), Int64(n), Int64(n), Int64(n),
                       1, a, Int64(n), a, Int64(n), 0, &c, Int64(n))
    }
}
