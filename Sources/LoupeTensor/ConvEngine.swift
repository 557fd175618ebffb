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
/// too (oneDNN pads its 3 channels to 16 and runs at a fifth of its usual speed there,
/// docs/engine-decision.md), so that no convolution result depends on OpenBLAS's kernels.
public final class ConvolutionPlan: @unchecked Sendable {
    struct Key: Hashable {
        let backward: Bool
        let weights: UInt
        let batch: Int, channels: Int, outChannels: Int, group: Int
        let geometry: ConvGeometry
        let bias: Bool
        let clipLo: Float, clipHi: Float
    }

    private let entries = Locked<[Key: OneDNNConvolution]>([:])
    let capacity = 16
    private let store: PreparedWeightStore

    public init() { store = PreparedWeightStore(capacity: capacity) }

    /// y = conv(x, w) + bias, clamped to `clip`: the contract of `conv2d` (same layouts),
    /// with `weights` the array behind `w` (`[M, C / group, kH, kW]`).
    public func forward(
        x: UnsafePointer<Float>, batch: Int, channels C: Int,
        weights: [Float], outChannels M: Int, group: Int,
        bias: UnsafePointer<Float>?, _ g: ConvGeometry, clip: (Float, Float)? = nil,
        y: UnsafeMutablePointer<Float>
    ) throws {
        precondition(g.rank == 2 && weights.count == M * (C / group) * g.kernelSize)
        if LoupeConfiguration.current.convolutions == .blas || isEmpty(batch, C, M, g) {
            try weights.withUnsafeBufferPointer { pw in
                try conv2d(x: x, batch: batch, channels: C, w: pw.baseAddress ?? UnsafePointer(bitPattern: 8)!, outChannels: M,
                           group: group, bias: bias, g, clip: clip, y: y)
            }
            return
        }
        let conv = try convolution(backward: false, batch: batch, channels: C, weights: weights, outChannels: M,
                                   group: group, g, bias: bias != nil, clip: clip)
        try conv.run(input: x, bias: bias, output: y)
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

    /// The implementation oneDNN chose for a forward convolution (for tests and `--verbose`).
    func implementation(batch: Int, channels C: Int, weights: [Float], outChannels M: Int, group: Int,
                        _ g: ConvGeometry, backward: Bool = false) throws -> String {
        try convolution(backward: backward, batch: batch, channels: C, weights: weights, outChannels: M, group: group, g,
                        bias: false, clip: nil).implementation
    }

    private func isEmpty(_ batch: Int, _ C: Int, _ M: Int, _ g: ConvGeometry) -> Bool {
        batch == 0 || C == 0 || M == 0 || g.outputSize == 0 || g.inputSize == 0
    }

    private func convolution(backward: Bool, batch: Int, channels C: Int, weights: [Float], outChannels M: Int,
                             group: Int, _ g: ConvGeometry, bias: Bool, clip: (Float, Float)?) throws -> OneDNNConvolution {
        let id = weights.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        let key = Key(backward: backward, weights: id, batch: batch, channels: C, outChannels: M, group: group, geometry: g,
                      bias: bias, clipLo: clip?.0 ?? .nan, clipHi: clip?.1 ?? .nan)
        if let c = entries.value[key] { return c }
        let conv = try OneDNNConvolution(backward ? .backwardData : .forward, batch: batch, channels: C, outChannels: M,
                                         group: group, g, bias: bias, clip: clip, weights: weights, id: id, store: store)
        entries.mutate { e in
            if e.count >= capacity { e.removeAll() }
            e[key] = conv
        }
        return conv
    }
}
