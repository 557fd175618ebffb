import CKernels

/// Each row's squared Euclidean norm in float64: `out[r] = Σ_i x[r, i]²` with term i added to
/// partial sum i mod 8 (each partial sum in index order), then the eight sums added 0 to 7
/// left to right. The order is fixed, so the value is the same on every ISA path, thread
/// count and machine; the AVX-512 and AVX2 paths run several rows at once.
/// `path` nil: the process's `ISAPath.current()` (baseline if it cannot be decided).
public func rowSquaredNorms(_ x: UnsafePointer<Float>, rows: Int, columns: Int, stride: Int,
                            into out: UnsafeMutablePointer<Double>, path: ISAPath? = nil) {
    guard rows > 0 else { return }
    precondition(columns >= 0 && stride >= columns, "rowSquaredNorms: stride \(stride) < columns \(columns)")
    let chosen = path ?? (try? ISAPath.current()) ?? .baseline
    precondition(ISAPath.supported.contains(chosen), "rowSquaredNorms: this CPU has no \(chosen.rawValue) path")
    let isa: Int32
    switch chosen {
    case .avx512: isa = 2
    case .avx2: isa = 1
    case .baseline: isa = 0
    }
    loupe_row_squared_norms(x, rows, columns, stride, out, isa)
}
