import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// oneDNN (Debian's build) runs its convolutions on libgomp's OpenMP threads, which by default
/// spin for a while after each parallel region, waiting for the next one. Between two
/// convolutions Loupe runs its own kernels (pooling, adds, ...) on its own threads, and the
/// spinning OpenMP workers take their cores: on a 2-core machine ResNet-18 ran at half the
/// speed of the OpenBLAS path until `OMP_WAIT_POLICY=passive` (workers sleep at once) made it
/// 1.4× faster than that path (docs/engine.md). libgomp reads the variable only when it is
/// loaded, before `main`, so `loupe` sets it and re-executes itself once when it is unset.
/// Set `OMP_WAIT_POLICY` (to `active`, say) to keep a value of your own.
extension Loupe {
    static func main() {
        if ProcessInfo.processInfo.environment["OMP_WAIT_POLICY"] == nil {
            setenv("OMP_WAIT_POLICY", "passive", 1)
            execv("/proc/self/exe", CommandLine.unsafeArgv)
            // exec failed (no /proc): go on with libgomp's default policy.
        }
        Self.main(nil)
    }
}
