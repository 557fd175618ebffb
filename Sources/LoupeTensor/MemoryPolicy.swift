/// How tensor buffers come from the system allocator.
///
/// glibc serves large allocations with fresh `mmap`s and returns them on free, so every
/// activation of every run would be page-faulted in (and zeroed by the kernel) anew. Raising
/// the mmap and trim thresholds keeps freed activation buffers in the heap, where the next
/// node or the next run reuses them: the effect of an arena, without one.
public enum MemoryPolicy {
    /// Applies the policy; runs once, however often (and from however many threads) it is called.
    public static func configure() { _ = applied }

    private static let applied: Void = {
        #if os(Linux)
        _ = glibcMallopt(-3, 32 << 20)      // M_MMAP_THRESHOLD: 32 MiB, the largest glibc accepts
        _ = glibcMallopt(-1, Int32.max)     // M_TRIM_THRESHOLD: never give memory back mid-run
        #endif
    }()
}

#if os(Linux)
/// glibc's `int mallopt(int param, int value)` (malloc.h is not part of the Glibc module).
@_silgen_name("mallopt")
private func glibcMallopt(_ param: Int32, _ value: Int32) -> Int32
#endif
