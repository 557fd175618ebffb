import Foundation

/// Which kernels run 2-D convolutions (forward and input gradient).
///
/// - `onednn` (the default): oneDNN's JIT kernels on the ISA path `ISAPath.current()`
///   (`OneDNN.swift`), weights prepared once per plan (`ConvolutionPlan`).
/// - `blas`: Loupe's im2col + OpenBLAS path (`conv2d`, `conv2dBackwardData` in Conv2D.swift),
///   whose speed depends on the kernels OpenBLAS picks.
///
/// `LOUPE_CONV=onednn|blas` sets the default; `LoupeConfiguration.convolutions` is the same
/// switch as a library setting. The naive kernels (`conv2dNaive`, `convNdNaive`,
/// `convNdBackwardDataNaive`) are the reference both are tested against.
public enum ConvEngine: String, CaseIterable, Sendable {
    case onednn, blas

    /// `LOUPE_CONV` when it names an engine, else `onednn`.
    public static var fromEnvironment: ConvEngine {
        ProcessInfo.processInfo.environment["LOUPE_CONV"].flatMap { ConvEngine(rawValue: $0.lowercased()) } ?? .onednn
    }
}

/// The prepared state of one convolution node of a plan: oneDNN primitives per shape and the
/// weights reordered into their layouts, created at the first call and reused after.
///
/// Key: the weight array's identity (its buffer address, kept valid by holding the array),
/// the shapes, group, geometry, bias presence and fused clip. A plan whose weights change
/// between calls (weights fed as a graph input) gets new entries; past `capacity` entries
/// the cache is emptied, so it never grows without bound.
///
/// Runs the im2col + OpenBLAS path instead when `LoupeConfiguration.convolutions` is `.blas`.
/// Every shape goes through oneDNN otherwise, the input gradient of a 3-channel image stem
/// too (there by oneDNN's own GEMM-based kernel: its blocked kernels pad the 3 channels to 16
/// and run at a fifth of their usual speed, docs/engine-decision.md), so that no
/// convolution result depends on OpenBLAS's kernels.
public final class ConvolutionPlan: @unchecked Sendable {
    struct Key: Hashable {
        let backward: Bool
        let weights: UInt
        let batch: Int, channels: Int, outChannels: Int, group: Int
        let geometry: ConvGeometry
        let bias: Bool
        /// The clip bounds' bit patterns (NaN when there is no clip): as Floats, the NaN of an
        /// unclipped convolution made every key unequal to itself, so those convolutions
        /// made a new primitive at every call and the cache filled with copies.
        let clipLo: UInt32, clipHi: UInt32
        let sum: Bool
        let winograd: Bool
        /// `OneDNN.teamSize` when made (see `OneDNN.Primitive`).
        let threads: Int
    }

    private let entries = Locked<[Key: OneDNNConvolution]>([:])
    let capacity = 16
    private let store: PreparedWeightStore

    public init() { store = PreparedWeightStore(capacity: capacity) }

    /// How many primitives the plan holds (tests).
    var cachedConvolutions: Int { entries.value.count }

    /// y = conv(x, w) + bias (+ addend), clamped to `clip`: the contract of `conv2d` (same
    /// layouts), with `weights` the array behind `w` (`[M, C / group, kH, kW]`) and `addend`
    /// a residual of y's shape (oneDNN's `sum` post-op; `y` may be `addend`'s buffer).
    public func forward(
        x: UnsafePointer<Float>, batch: Int, channels C: Int,
        weights: [Float], outChannels M: Int, group: Int,
        bias: UnsafePointer<Float>?, _ g: ConvGeometry, clip: (Float, Float)? = nil,
        addend: UnsafePointer<Float>? = nil, y: UnsafeMutablePointer<Float>
    ) throws {
        precondition(g.rank == 2 && weights.count == M * (C / group) * g.kernelSize)
        if LoupeConfiguration.current.convolutions == .blas || isEmpty(batch, C, M, g) {
            let n = batch * M * g.outputSize
            // conv2d overwrites y: an addend in y's own buffer is copied first.
            let saved = addend == UnsafePointer(y) ? Array(UnsafeBufferPointer(start: y, count: n)) : nil
            try weights.withUnsafeBufferPointer { pw in
                try conv2d(x: x, batch: batch, channels: C, w: pw.baseAddress ?? UnsafePointer(bitPattern: 8)!, outChannels: M,
                           group: group, bias: bias, g, clip: addend == nil ? clip : nil, y: y)
            }
            if let addend {
                if let saved { for i in 0..<n { y[i] += saved[i] } } else { for i in 0..<n { y[i] += addend[i] } }
                if let (lo, hi) = clip { for i in 0..<n { y[i] = min(max(y[i], lo), hi) } }
            }
            return
        }
        let conv = try convolution(backward: false, batch: batch, channels: C, weights: weights, outChannels: M,
                                   group: group, g, bias: bias != nil, clip: clip, sum: addend != nil)
        try conv.run(input: x, bias: bias, addend: addend, output: y)
    }

    /// The same on tensors of an inference plan, either of which may be carried in a oneDNN
    /// layout (`Tensor.carried`): returns y of `shape` (`[N, M, H, W]`), carried in the
    /// primitive's layout when `carry`, else NCHW. No reorder happens when `x` (or `addend`)
    /// already has the layout the primitive wants (docs/engine.md, "Carried layouts").
    /// Returns nil when oneDNN does not run this convolution (`LOUPE_CONV=blas`, empty
    /// shapes): the caller then takes the NCHW path with plain tensors.
    public func forward(
        x: Tensor, weights: [Float], outChannels M: Int, group: Int,
        bias: UnsafePointer<Float>?, _ g: ConvGeometry, clip: (Float, Float)? = nil,
        addend: Tensor? = nil, carry: Bool, shape: [Int]
    ) throws -> Tensor? {
        let batch = x.shape[0], C = x.shape[1]
        if LoupeConfiguration.current.convolutions == .blas || isEmpty(batch, C, M, g) { return nil }
        let conv = try convolution(backward: false, batch: batch, channels: C, weights: weights, outChannels: M,
                                   group: group, g, bias: bias != nil, clip: clip, sum: addend != nil)
        return try conv.forward(x: x, bias: bias, addend: addend, carry: carry, shape: shape)
    }

    /// dx = the gradient of `forward` with respect to x: the contract of `conv2dBackwardData`
    /// (overwrites dx).
    public func backwardData(
        dy: UnsafePointer<Float>, batch: Int, outChannels M: Int,
        weights: [Float], channels C: Int, group: Int, _ g: ConvGeometry,
        dx: UnsafeMutablePointer<Float>
    ) throws {
        precondition(g.rank == 2 && weights.count == M * (C / group) * g.kernelSize)
        if LoupeConfiguration.current.convolutions == .blas || isEmpty(batch, C, M, g) {
            try weights.withUnsafeBufferPointer { pw in
                try conv2dBackwardData(dy: dy, batch: batch, outChannels: M, w: pw.baseAddress ?? UnsafePointer(bitPattern: 8)!,
                                       channels: C, group: group, g, dx: dx)
            }
            return
        }
        let conv = try convolution(backward: true, batch: batch, channels: C, weights: weights, outChannels: M,
                                   group: group, g, bias: false, clip: nil)
        try conv.run(input: dy, bias: nil, output: dx)
    }

    /// The same on tensors of a gradient plan (`OneDNNConvolution.backwardData(dy:along:...)`):
    /// `dy` of shape `[N, M, h, w]` NCHW or carried, `prepare` applied to it (and to `along`)
    /// in the primitive's layout, dX carried when `carry`, else NCHW of `shape` (`[N, C, H, W]`).
    /// Returns dX and the prepared dY, or nil when oneDNN does not run this convolution
    /// (`LOUPE_CONV=blas`, empty shapes): the caller then takes the NCHW path.
    public func backwardData(
        dy: Tensor, along: [Tensor] = [], prepare: (Tensor, [Tensor]) throws -> Tensor = { d, _ in d },
        weights: [Float], channels C: Int, group: Int, _ g: ConvGeometry, carry: Bool, shape: [Int]
    ) throws -> (dx: Tensor, dy: Tensor)? {
        let batch = dy.shape[0], M = dy.shape[1]
        if LoupeConfiguration.current.convolutions == .blas || isEmpty(batch, C, M, g) { return nil }
        let conv = try convolution(backward: true, batch: batch, channels: C, weights: weights, outChannels: M,
                                   group: group, g, bias: false, clip: nil)
        return try conv.backwardData(dy: dy, along: along, prepare: prepare, carry: carry, shape: shape)
    }

    /// The implementation oneDNN chose for a convolution (for tests and `--verbose`), e.g.
    /// `brgconv:avx512_core`, `jit_fp32_wino_2x3:avx512_core`.
    func implementation(batch: Int, channels C: Int, weights: [Float], outChannels M: Int, group: Int,
                        _ g: ConvGeometry, backward: Bool = false, sum: Bool = false) throws -> String {
        try convolution(backward: backward, batch: batch, channels: C, weights: weights, outChannels: M, group: group, g,
                        bias: false, clip: nil, sum: sum).implementation
    }

    /// Whether a convolution should run by Winograd (when `LoupeConfiguration.winograd`
    /// allows and oneDNN has a kernel on this ISA path): 3×3, stride 1, no dilation, no
    /// groups; forward from 14×14 outputs and 64 input channels up, backward-data from 28×28
    /// and 16 input channels up. Measured per layer on ResNet-18/50 and VGG-16 (docs/engine.md): oneDNN's F(2,3)
    /// forward is 0.33–0.83× the direct kernel's time from 56×56 to 14×14 but 1.8–7× slower
    /// on the 512-channel 7×7 layers and on VGG's 3-channel stem; its F(4,3) backward-data is
    /// 2.1× faster at 56×56 and 1.1× at 28×28 but 0.55× at 14×14 and 0.19× at 7×7
    /// (docs/engine-decision.md). The forward kernel wants nChw16c where the direct kernels
    /// take NHWC, so in an inference plan with carried layouts a Winograd layer costs a
    /// reorder in and out: on SqueezeNet-1.1's thin 3×3 layers (16–48 input channels) that
    /// made the whole pass 1.15–1.2× slower than direct (docs/benchmarks.md), hence 64.
    static func prefersWinograd(backward: Bool, channels C: Int, group: Int, _ g: ConvGeometry) -> Bool {
        guard group == 1, C >= (backward ? 16 : 64), g.kernel == [3, 3], g.strides == [1, 1], g.dilations == [1, 1] else {
            return false
        }
        return g.output[0] * g.output[1] >= (backward ? 28 * 28 : 14 * 14)
    }

    private func isEmpty(_ batch: Int, _ C: Int, _ M: Int, _ g: ConvGeometry) -> Bool {
        batch == 0 || C == 0 || M == 0 || g.outputSize == 0 || g.inputSize == 0
    }

    private func convolution(backward: Bool, batch: Int, channels C: Int, weights: [Float], outChannels M: Int,
                             group: Int, _ g: ConvGeometry, bias: Bool, clip: (Float, Float)?,
                             sum: Bool = false) throws -> OneDNNConvolution {
        let id = weights.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        let winograd = LoupeConfiguration.current.winograd && Self.prefersWinograd(backward: backward, channels: C, group: group, g)
        let key = Key(backward: backward, weights: id, batch: batch, channels: C, outChannels: M, group: group, geometry: g,
                      bias: bias, clipLo: (clip?.0 ?? .nan).bitPattern, clipHi: (clip?.1 ?? .nan).bitPattern, sum: sum, winograd: winograd,
                      threads: OneDNN.teamSize)
        if let c = entries.value[key] { return c }
        func make(_ algorithm: OneDNNConvolution.Algorithm) throws -> OneDNNConvolution {
            try OneDNNConvolution(backward ? .backwardData : .forward, algorithm, batch: batch, channels: C, outChannels: M,
                                  group: group, g, bias: bias, clip: clip, sum: sum, weights: weights, id: id, store: store)
        }
        // oneDNN has no Winograd kernel on the avx2 and baseline paths (nor for some channel
        // counts and post-ops): creating one fails, and the direct kernel runs.
        let conv = try (winograd ? (try? make(.winograd)) : nil) ?? make(.direct)
        entries.mutate { e in
            if e.count >= capacity { e.removeAll() }
            e[key] = conv
        }
        return conv
    }
}
