import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// oneDNN (Debian's build) runs its convolutions on libgomp's OpenMP threads, which by default
/// spin for a while after each parallel region (GOMP_SPINCOUNT 300,000), waiting for the next
/// one. Between two convolutions Loupe runs its own kernels (pooling, adds, ...) on its own
/// threads, and workers spinning that long take their cores: on a 2-core machine ResNet-18 ran
/// at half the speed of the OpenBLAS path. `OMP_WAIT_POLICY=passive` (workers sleep at once)
/// fixed that but made every convolution wake its workers through the kernel, which at batch
/// 1 cost a third or more of the wall time of the small models (MobileNetV2 8.1 ms passive
/// against 4.4 ms with a short spin). So `loupe` sets `GOMP_SPINCOUNT=3000` (a short spin,
/// then sleep; docs/engine.md "Threads" has the measurements). libgomp reads these variables
/// only when it is loaded, before `main`, so `loupe` sets it and re-executes itself once when
/// neither `OMP_WAIT_POLICY` nor `GOMP_SPINCOUNT` is set. Set either to keep a value of your own.
extension Loupe {
    static func main() {
        let env = ProcessInfo.processInfo.environment
        if env["OMP_WAIT_POLICY"] == nil && env["GOMP_SPINCOUNT"] == nil {
            setenv("GOMP_SPINCOUNT", "3000", 1)
            execv("/proc/self/exe", CommandLine.unsafeArgv)
            // exec failed (no /proc): go on with libgomp's default policy.
        }
        Self.main(nil)
    }
}
