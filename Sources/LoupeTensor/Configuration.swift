import Foundation

/// Loupe's tuning knobs, in one value: thread count, allocation limit, and the sizes at which
/// kernels split or tile their work. Every field has a documented default; a library user who
/// never touches it gets those defaults, the same as the command line without flags.
///
/// Set it once, before work starts (`LoupeConfiguration.current = c`, or `update { ... }`);
/// reads and writes are guarded by a lock, so reading it from kernels on several threads is
/// safe. Changing it while another thread runs a model is allowed but takes effect at that
/// thread's next read.
public struct LoupeConfiguration: Sendable, Equatable {
    /// Threads for Loupe's own `parallelFor` (depthwise convolution, pooling, im2col tiles,
    /// split GEMMs). Default: the online processors. OpenBLAS itself always runs on one thread
    /// (see `Threads`).
    public var threads: Int
    /// The largest element count Loupe allocates for one tensor (default 2^31 elements, 8 GiB
    /// of float32). Shapes from model files are checked against it before any allocation.
    public var maxElements: Int
    /// Products smaller than this many multiply-accumulates are not split across threads by
    /// `sgemm` (default 2^18).
    public var gemmSplitMinMACs: Int
    /// The fewest rows (or columns) of C each thread gets when `sgemm` splits a product (16).
    public var gemmSplitMinSide: Int
    /// The most parts `sgemm` and the convolution GEMMs cut one product into (8). The parts
    /// depend on the shape only, not on `threads`, so that results do not either.
    public var gemmMaxParts: Int
    /// The fewest output channels per thread for which a convolution's GEMM is split by
    /// output channels (32).
    public var splitRowsMin: Int
    /// Target size in floats of one im2col tile in `conv2d` (2^18: 1 MiB, fits the L2 cache).
    public var im2colTileFloats: Int
    /// The fewest GEMM columns (output positions) an im2col tile may have (512).
    public var im2colMinTileColumns: Int
    /// Which kernels run 2-D convolutions: oneDNN (default) or im2col + OpenBLAS; the
    /// default comes from `LOUPE_CONV` (see `ConvEngine`).
    public var convolutions: ConvEngine
    /// Whether oneDNN may run 3×3 stride-1 convolutions by Winograd's minimal filtering
    /// where it has such a kernel and it is faster (default true); false (`--exact`) runs
    /// every convolution by the direct algorithm. See `ConvolutionPlan`.
    public var winograd: Bool

    /// The defaults; `threads` nil means the online processors.
    public init(threads: Int? = nil, maxElements: Int = 1 << 31, gemmSplitMinMACs: Int = 1 << 18,
                gemmSplitMinSide: Int = 16, gemmMaxParts: Int = 8, splitRowsMin: Int = 32, im2colTileFloats: Int = 1 << 18,
                im2colMinTileColumns: Int = 512, convolutions: ConvEngine = .fromEnvironment, winograd: Bool = true) {
        self.threads = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
        self.maxElements = maxElements
        self.gemmSplitMinMACs = gemmSplitMinMACs
        self.gemmSplitMinSide = gemmSplitMinSide
        self.gemmMaxParts = gemmMaxParts
        self.splitRowsMin = splitRowsMin
        self.im2colTileFloats = im2colTileFloats
        self.im2colMinTileColumns = im2colMinTileColumns
        self.convolutions = convolutions
        self.winograd = winograd
    }

    /// The configuration in force.
    public static var current: LoupeConfiguration {
        get { storage.value }
        set { storage.value = LoupeConfiguration(validating: newValue) }
    }

    /// Changes some fields of the configuration in force, atomically.
    public static func update(_ change: (inout LoupeConfiguration) -> Void) {
        storage.mutate { c in
            change(&c)
            c = LoupeConfiguration(validating: c)
        }
    }

    /// `c` with every count at least 1.
    private init(validating c: LoupeConfiguration) {
        self = c
        threads = max(1, threads)
        gemmSplitMinSide = max(1, gemmSplitMinSide)
        gemmMaxParts = max(1, gemmMaxParts)
        splitRowsMin = max(1, splitRowsMin)
        im2colTileFloats = max(1, im2colTileFloats)
        im2colMinTileColumns = max(1, im2colMinTileColumns)
    }

    private static let storage = Locked(LoupeConfiguration())
}

/// A value behind a lock, for state shared between threads (caches, configuration).
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    public init(_ value: Value) { stored = value }

    public var value: Value {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); defer { lock.unlock() }; stored = newValue }
    }

    /// Runs `body` on the value with the lock held; keep it short and never re-enter.
    @discardableResult
    public func mutate<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&stored)
    }
}
