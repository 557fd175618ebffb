/// A dense, row-major tensor. Layout for images is NCHW unless a comment says otherwise.
///
/// Floating-point data lives in `floats`, integer and boolean data in `ints` (see `DType`);
/// the other array is empty. Value semantics with copy-on-write: mutate in place through
/// `withMutableFloats` to avoid copies.
public struct Tensor: Sendable {
    public var shape: [Int]
    public var dtype: DType
    public var floats: [Float]
    public var ints: [Int64]
    /// An activation (or, in a gradient plan, a gradient) a fused plan keeps in a oneDNN
    /// primitive's own layout (blocked `nChw16c`, `NHWC`, ...) between layer-aware ops;
    /// `floats` is then empty and the data lives here. Only ops that say so ever see such a
    /// tensor (`Operator.acceptsCarried`, `backwardReads`, `acceptsCarriedGradients`);
    /// `plain()` gives the NCHW tensor (docs/engine.md, "Carried layouts").
    public var carried: CarriedLayout? = nil

    /// The largest element count Loupe will allocate for one tensor:
    /// `LoupeConfiguration.current.maxElements` (default 2^31 elements, 8 GiB of float32).
    /// Shapes from model files are checked against it before any allocation.
    public static var maxElements: Int { LoupeConfiguration.current.maxElements }

    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }
    public var isFloat: Bool { dtype.isFloatingPoint }

    /// Checks that `shape` is non-negative and its element count fits `maxElements`,
    /// without overflowing, and returns the count. An empty shape such as `[0, 2^62, 2^62]`
    /// is refused too: the product of its non-zero dimensions must also fit, so that
    /// `shape.reduce(1, *)` and stride arithmetic never overflow.
    @discardableResult
    public static func checkedCount(_ shape: [Int]) throws -> Int {
        var n = 1
        var empty = false
        for d in shape {
            guard d >= 0 else { throw LoupeError(.invalidModel, "negative dimension in shape \(describe(shape))") }
            if d == 0 { empty = true }
        }
        let limit = maxElements
        for d in shape where d != 0 {
            let (m, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow, m <= limit else {
                throw LoupeError(.tooLarge, "shape \(describe(shape)) has more than \(limit) elements\(empty ? " in its non-zero dimensions" : ""); refusing to allocate")
            }
            n = m
        }
        return empty ? 0 : n
    }

    /// Float tensor from existing data. `data.count` must equal the shape's element count.
    public init(shape: [Int], floats: [Float], dtype: DType = .float32) {
        precondition(shape.reduce(1, *) == floats.count, "Tensor: \(floats.count) values for shape \(shape)")
        self.shape = shape
        self.dtype = dtype
        self.floats = floats
        self.ints = []
    }

    /// Integer tensor from existing data (int64 storage, any integer dtype).
    public init(shape: [Int], ints: [Int64], dtype: DType = .int64) {
        precondition(shape.reduce(1, *) == ints.count, "Tensor: \(ints.count) values for shape \(shape)")
        precondition(!dtype.isFloatingPoint)
        self.shape = shape
        self.dtype = dtype
        self.floats = []
        self.ints = ints
    }

    /// A zero-filled tensor; throws if the shape is invalid or too large.
    public init(zeros shape: [Int], dtype: DType = .float32) throws {
        let n = try Tensor.checkedCount(shape)
        self.shape = shape
        self.dtype = dtype
        if dtype.isFloatingPoint {
            floats = [Float](repeating: 0, count: n)
            ints = []
        } else {
            floats = []
            ints = [Int64](repeating: 0, count: n)
        }
    }

    /// A float tensor whose contents `fill` writes; the buffer starts uninitialised, so
    /// `fill` must write every element.
    /// Inlinable so that the element loops callers pass in are specialised (and vectorised)
    /// together with their element function instead of calling it through a closure.
    @inlinable
    public init(shape: [Int], filling fill: (UnsafeMutableBufferPointer<Float>) throws -> Void) throws {
        let n = try Tensor.checkedCount(shape)
        self.shape = shape
        self.dtype = .float32
        self.ints = []
        self.floats = try [Float](unsafeUninitializedCapacity: n) { buf, initialized in
            try fill(buf)
            initialized = n
        }
    }

    public static func scalar(_ v: Float) -> Tensor { Tensor(shape: [], floats: [v]) }
    public static func scalar(int v: Int64) -> Tensor { Tensor(shape: [], ints: [v]) }
    public static func vector(_ v: [Int64]) -> Tensor { Tensor(shape: [v.count], ints: v) }
    public static func vector(_ v: [Float]) -> Tensor { Tensor(shape: [v.count], floats: v) }

    /// The values as Int (for shape-like inputs such as Reshape's `shape`).
    public var intValues: [Int] {
        isFloat ? floats.map { Int($0) } : ints.map { Int($0) }
    }

    /// The values as Float, converting integers.
    public var floatValues: [Float] {
        isFloat ? floats : ints.map { Float($0) }
    }

    /// Same data, new shape (element counts must match).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count)
        var t = self
        t.shape = newShape
        return t
    }

    /// Builds a tensor of this dtype by picking elements at `sourceIndex` (a gather over the
    /// flat storage): the generic engine for data-movement ops on any dtype.
    public func gathering(_ sourceIndex: [Int], shape newShape: [Int]) -> Tensor {
        if isFloat {
            let src = floats
            return Tensor(shape: newShape, floats: sourceIndex.map { src[$0] }, dtype: dtype)
        } else {
            let src = ints
            return Tensor(shape: newShape, ints: sourceIndex.map { src[$0] }, dtype: dtype)
        }
    }

    /// Number of bytes of element data in memory.
    public var byteCount: Int { floats.count * 4 + ints.count * 8 + (carried?.bytes ?? 0) }
}

/// Row-major strides for a shape.
public func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[i] = s
        s *= shape[i]
    }
    return strides
}

/// Normalises a possibly negative axis against `rank`, throwing if out of range.
public func normalizeAxis(_ axis: Int, rank: Int, what: String = "axis") throws -> Int {
    let a = axis < 0 ? axis + rank : axis
    guard a >= 0, a < max(rank, 1) || (rank == 0 && a == 0) else {
        throw LoupeError.shape("\(what) \(axis) is out of range for rank \(rank)")
    }
    return a
}
