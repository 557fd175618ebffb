import Foundation

/// The instruction-set path Loupe's fast kernels run on, chosen once per process from the
/// CPU's own feature bits (CPUID and XGETBV, read in `OneDNN.cpuFeatures`), never from
/// OpenBLAS's detection or its `OPENBLAS_CORETYPE` variable.
///
/// - `avx512`: AVX-512 F, CD, BW, DQ and VL (oneDNN's `avx512_core` and everything above it
///   the CPU has: VNNI, BF16, AMX): oneDNN capped at `dnnl_cpu_isa_all`.
/// - `avx2`: AVX2 with FMA: oneDNN capped at `dnnl_cpu_isa_avx2` (its `jit:avx2` kernels,
///   nChw8c layouts; the path of AVX2-only CPUs such as AMD Zen 2/3).
/// - `baseline`: oneDNN capped at `dnnl_cpu_isa_sse41`, its lowest JIT level.
///
/// The environment variable `LOUPE_ISA=avx512|avx2|baseline` forces a path (tests and
/// benchmarks); `select(_:)` is the same switch as a library call. oneDNN fixes its cap when
/// it generates its first kernel, so the path can be chosen only before the first fast
/// convolution of the process: to test several paths, run several processes
/// (`Scripts/test.sh` runs the kernel tests once per supported path).
public enum ISAPath: String, CaseIterable, Sendable {
    case avx512, avx2, baseline

    /// The paths this CPU can run, fastest first (`baseline` always).
    public static var supported: [ISAPath] {
        let f = OneDNN.cpuFeatures
        var paths: [ISAPath] = []
        if f & 4 != 0 { paths.append(.avx512) }
        if f & 2 != 0 { paths.append(.avx2) }
        return paths + [.baseline]
    }

    /// The fastest path this CPU supports.
    public static var detected: ISAPath { supported[0] }

    /// The path in force: the one `select(_:)` or `LOUPE_ISA` chose, else `detected`. Fixing
    /// it applies the cap to oneDNN. Throws when `LOUPE_ISA` names no path or one this CPU
    /// cannot run.
    public static func current() throws -> ISAPath {
        try state.mutate { s in
            if let p = s { return p }
            let p = try fromEnvironment() ?? detected
            try OneDNN.capISA(p)
            s = p
            return p
        }
    }

    /// Chooses the path for this process (what `LOUPE_ISA` does), before the first fast
    /// convolution. Throws if the CPU lacks it, or if another path is already in force.
    public static func select(_ path: ISAPath) throws {
        try state.mutate { s in
            if let p = s {
                guard p == path else {
                    throw LoupeError(.invalidArgument, "the ISA path is already \(p.rawValue) in this process (oneDNN fixes it at its first kernel); cannot switch to \(path.rawValue)")
                }
                return
            }
            try checkSupported(path, source: "`isa`")
            try OneDNN.capISA(path)
            s = path
        }
    }

    /// The instruction set oneDNN's kernels use on the current path, as oneDNN names it
    /// (e.g. `avx512_core_amx` on the avx512 path of a Sapphire Rapids CPU, `avx2`, `sse41`).
    public static var kernelISA: String {
        guard (try? current()) != nil else { return "unknown" }
        return OneDNN.effectiveISAName
    }

    /// `LOUPE_ISA`, parsed and checked against the CPU; nil when unset or empty.
    static func fromEnvironment() throws -> ISAPath? {
        guard let raw = ProcessInfo.processInfo.environment["LOUPE_ISA"], !raw.isEmpty else { return nil }
        guard let p = ISAPath(rawValue: raw.lowercased()) else {
            throw LoupeError(.invalidArgument, "LOUPE_ISA='\(raw)' is not one of avx512, avx2, baseline")
        }
        try checkSupported(p, source: "LOUPE_ISA")
        return p
    }

    static func checkSupported(_ p: ISAPath, source: String) throws {
        guard supported.contains(p) else {
            throw LoupeError(.invalidArgument, "\(source)=\(p.rawValue): this CPU supports only \(supported.map(\.rawValue).joined(separator: ", "))")
        }
    }

    private static let state = Locked<ISAPath?>(nil)
}
