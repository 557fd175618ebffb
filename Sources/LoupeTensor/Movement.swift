import Foundation

/// Storage element of a tensor: `Float` for the floating dtypes, `Int64` for integers and bool.
/// The data-movement kernels below are generic over it; every call site passes a concrete type
/// (the `Tensor`-level entry points below dispatch on `isFloat`), so the optimiser specialises them
/// within LoupeTensor.
public protocol MovementElement: Sendable {
    static func storage(_ t: Tensor) -> [Self]
    static func tensor(_ shape: [Int], _ data: [Self], _ dtype: DType) -> Tensor
}

extension Float: MovementElement {
    public static func storage(_ t: Tensor) -> [Float] { t.floats }
    public static func tensor(_ shape: [Int], _ data: [Float], _ dtype: DType) -> Tensor {
        Tensor(shape: shape, floats: data, dtype: dtype)
    }
}

extension Int64: MovementElement {
    public static func storage(_ t: Tensor) -> [Int64] { t.ints }
    public static func tensor(_ shape: [Int], _ data: [Int64], _ dtype: DType) -> Tensor {
        Tensor(shape: shape, ints: data, dtype: dtype)
    }
}

/// The data-movement kernels of the shape ops (Concat, Transpose, Slice, Pad, Resize, ...).
///
/// Every kernel works on flat row-major buffers. Two engines cover almost every op:
/// - `copyStrided`: out[i] = src[offset + Σ i_d·strides[d]] (Transpose, Slice, Expand, Tile,
///   DepthToSpace, ...), with dimensions coalesced first so that the innermost run is a block
///   copy whenever the source is contiguous there;
/// - `gatherAxes`: out[i] = src[Σ maps[d][i_d]·strides[d]], or a fill value where a map entry is
///   -1 (Pad in every mode, nearest Resize).
/// `copyStridedNaive` / `gatherAxesNaive` are the per-element references the tests compare with.
/// Their adjoints for the backward rules are `stridedAdjoint` (scatter-add through the same view)
/// and `scatterAxes`. Files by family: `Movement+Strided.swift`, `Movement+Gather.swift`,
/// `Movement+Resize.swift`; the ops' attribute and gradient helpers are LoupeGraph's
/// `Ops/Support/Movement.swift`.
public enum Movement {
    // MARK: - Storage

    /// Allocates an uninitialised buffer of `shape`'s element count, lets `fill` write every
    /// element, and wraps it as a tensor of `dtype`.
    @inlinable
    public static func build<T: MovementElement>(
        _: T.Type, _ shape: [Int], _ dtype: DType, _ fill: (UnsafeMutablePointer<T>, Int) throws -> Void
    ) throws -> Tensor {
        let n = try Tensor.checkedCount(shape)
        let data = try [T](unsafeUninitializedCapacity: n) { buf, done in
            if n > 0 { try fill(buf.baseAddress!, n) }
            done = n
        }
        return T.tensor(shape, data, dtype)
    }

    /// Product of `shape[range]`.
    public static func product(_ shape: [Int], _ range: Range<Int>) -> Int {
        var p = 1
        for i in range { p *= shape[i] }
        return p
    }
}
