import LoupeGraph
import LoupeTensor

/// Occlusion. Zeiler and Fergus, "Visualizing and Understanding Convolutional Networks",
/// ECCV 2014, with Captum's `Occlusion` conventions.
///
/// A window of `window` pixels (all channels) slides over the image with `stride`, starting
/// at the top-left corner; there are ⌈(H − wh) / sh⌉ + 1 positions per axis and the last one
/// may stick out past the edge (it is then cut). Each position replaces the window by the
/// baseline (`baseline`, or the same pixels of `replacement`: a blurred image, a file) and
/// records the drop of the target score, s_c(x) − s_c(x occluded). The map is, at every
/// pixel, the mean drop over the windows covering it: H×W. High values: regions the class
/// score relies on. Occluded copies run through the model `batch` at a time.
///
/// `mode` chooses how the occluded copies run: `.plain`, whole forward passes of the
/// occluded images; `.incremental` (the default), Nakandala et al.'s incremental inference
/// (`Occlusion+Incremental.swift`), exact unless `approximation` is set.
public enum Occlusion {
    public enum Mode: String, Sendable, CaseIterable { case plain, incremental }

    /// Nakandala et al.'s approximate inference (SIGMOD 2019, section 4).
    public struct Approximation: Sendable, Equatable {
        /// The projective-field threshold τ in (0, 1]: every changed region longer than
        /// ⌈τ·n⌉ positions along an axis of n is cut to that length (1: exact).
        public var threshold: Double = 0.5
        /// Adaptive drill-down: windows first run at `drillDownStride` times the stride (1:
        /// no drill-down); of the other windows, the `drillDownFraction` with the highest
        /// drop interpolated from those run exactly, the others keep the interpolated drop.
        public var drillDownStride: Int = 2
        public var drillDownFraction: Double = 0.25
        public init() {}
    }

    public struct Settings: Sendable {
        public var window: (Int, Int) = (16, 16)
        public var stride: (Int, Int) = (8, 8)
        public var baseline: Float = 0
        /// When set, the window is filled from this image (the blurred input, a file) instead of `baseline`.
        public var replacement: IntegratedGradients.Baseline? = nil
        public var batch: Int = 16
        public var mode: Mode = .incremental
        /// nil: exact.
        public var approximation: Approximation? = nil
        public init() {}
    }

    /// The occlusion windows: top-left corners and the window regions, cut at the edges.
    struct Grid {
        let ny: Int, nx: Int
        let corners: [(Int, Int)]
        let regions: [ProjectiveField.Region]
    }

    /// `progress(done, total)` is called after each batch, from whichever thread ran it, one
    /// call at a time (under a lock: keep it short), with `done` increasing.
    public static func explain(_ model: ExplainableModel, _ x: Tensor, _ request: GradientRequest,
                               settings s: Settings, progress: ((Int, Int) -> Void)? = nil) throws -> Explanation {
        guard x.rank == 4, x.shape[0] == 1 else { throw LoupeError.shape("occlusion needs one NCHW image [1, C, H, W], got \(describe(x.shape))") }
        let (h, w) = (x.shape[2], x.shape[3])
        let (wh, ww) = s.window, (sh, sw) = s.stride
        guard wh >= 1, ww >= 1, wh <= h, ww <= w else {
            throw LoupeError(.invalidArgument, "`window` \(wh)x\(ww) must fit the \(h)x\(w) input")
        }
        guard sh >= 1, sw >= 1, (sh <= wh || wh == h), (sw <= ww || ww == w) else {
            throw LoupeError(.invalidArgument, "`stride` \(sh)x\(sw) must be positive and no larger than the window \(wh)x\(ww)")
        }
        if let a = s.approximation {
            guard a.threshold > 0, a.threshold <= 1 else { throw LoupeError(.invalidArgument, "the projective-field threshold must be in (0, 1], got \(a.threshold)") }
            guard a.drillDownStride >= 1 else { throw LoupeError(.invalidArgument, "the drill-down stride factor must be at least 1, got \(a.drillDownStride)") }
            guard a.drillDownFraction >= 0, a.drillDownFraction <= 1 else { throw LoupeError(.invalidArgument, "the drill-down fraction must be in [0, 1], got \(a.drillDownFraction)") }
            guard s.mode == .incremental else { throw LoupeError(.invalidArgument, "approximate occlusion needs the incremental mode, not the plain one") }
        }
        let ny = (h - wh + sh - 1) / sh + 1, nx = (w - ww + sw - 1) / sw + 1
        let corners = (0..<(ny * nx)).map { (($0 / nx) * sh, ($0 % nx) * sw) }
        let grid = Grid(ny: ny, nx: nx, corners: corners, regions: corners.map { y0, x0 in
            ProjectiveField.Region(y: y0...(min(y0 + wh, h) - 1), x: x0...(min(x0 + ww, w) - 1))
        })
        let (logits, _) = try model.forward(x)
        let target = try model.resolveTarget(request.target.map(String.init), logits: logits, labels: [])
        let base = Double(score(logits, target, request.score))
        let fill = try s.replacement.map { try IntegratedGradients.baselineTensor($0, for: x) }
            ?? Tensor(shape: x.shape, floats: [Float](repeating: s.baseline, count: x.count))

        // Can the model take a batch? Only if the input's first dimension is not fixed to 1.
        let batchable = model.graph.inputs[0].dims?.first.map { $0.value == nil || $0.value! > 1 } ?? true
        let batch = batchable ? max(1, s.batch) : 1
        let drops: [Double]
        switch s.mode {
        case .plain:
            drops = try plainLogits(model, x, fill, grid, batch: batch, progress: progress).map { base - Double(score($0, target, request.score)) }
        case .incremental:
            drops = try incrementalDrops(model, x, fill, grid, batch: batch, approximation: s.approximation, progress: progress) {
                base - Double(score($0, target, request.score))
            }
        }
        var sum = [Double](repeating: 0, count: h * w), count = [Double](repeating: 0, count: h * w)
        for (r, drop) in zip(grid.regions, drops) {
            for y in r.y { for xx in r.x { sum[y * w + xx] += drop; count[y * w + xx] += 1 } }
        }
        let map = (0..<(h * w)).map { count[$0] > 0 ? Float(sum[$0] / count[$0]) : 0 }
        return Explanation(method: .occlusion, map: Tensor(shape: [h, w], floats: map), target: target)
    }

    /// The logits of each occluded image, by whole forward passes of `batch` images.
    static func plainLogits(_ model: ExplainableModel, _ x: Tensor, _ fill: Tensor, _ grid: Grid, batch: Int,
                           progress: ((Int, Int) -> Void)?) throws -> [[Float]] {
        let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        let plane = c * h * w
        return try inBatches(grid.regions.count, batch: batch, progress: progress) { range -> [[Float]] in
            let chunk = Array(grid.regions[range])
            let xb = try Tensor(shape: [chunk.count, c, h, w]) { buf in
                for (b, r) in chunk.enumerated() {
                    for i in 0..<plane { buf[b * plane + i] = x.floats[i] }
                    for ch in 0..<c {
                        for y in r.y { for xx in r.x { buf[b * plane + (ch * h + y) * w + xx] = fill.floats[(ch * h + y) * w + xx] } }
                    }
                }
            }
            let l = try model.executor.run([model.inputName: xb], keep: [model.logitsName])[model.logitsName]!
            let k = l.shape.last!
            return (0..<chunk.count).map { b in Array(l.floats[(b * k)..<((b + 1) * k)]) }
        }
    }

    static func score(_ logits: [Float], _ c: Int, _ kind: ExplainableModel.ScoreKind) -> Float {
        switch kind {
        case .logit: return logits[c]
        case .probability:
            return Float(softmaxDouble(logits)[c])
        }
    }
}

import Foundation
