import LoupeGraph
import LoupeTensor

/// Occlusion. Zeiler and Fergus, "Visualizing and Understanding Convolutional Networks",
/// ECCV 2014, with Captum's `Occlusion` conventions.
///
/// A window of `window` pixels (all channels) slides over the image with `stride`, starting
/// at the top-left corner; there are ⌈(H − wh) / sh⌉ + 1 positions per axis and the last one
/// may stick out past the edge (it is then cut). Each position replaces the window by
/// `baseline` and records the drop of the target score, s_c(x) − s_c(x occluded). The map is,
/// at every pixel, the mean drop over the windows covering it: H×W. High values: regions the
/// class score relies on. Occluded copies run through the model `batch` at a time.
public enum Occlusion {
    public struct Settings: Sendable {
        public var window: (Int, Int) = (16, 16)
        public var stride: (Int, Int) = (8, 8)
        public var baseline: Float = 0
        public var batch: Int = 16
        public init() {}
    }

    public static func explain(_ model: ExplainableModel, _ x: Tensor, _ request: GradientRequest,
                               settings s: Settings, progress: ((Int, Int) -> Void)? = nil) throws -> Explanation {
        guard x.rank == 4, x.shape[0] == 1 else { throw LoupeError.shape("occlusion needs one NCHW image [1, C, H, W], got \(describe(x.shape))") }
        let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        let (wh, ww) = s.window, (sh, sw) = s.stride
        guard wh >= 1, ww >= 1, wh <= h, ww <= w else {
            throw LoupeError(.invalidArgument, "`window` \(wh)x\(ww) must fit the \(h)x\(w) input")
        }
        guard sh >= 1, sw >= 1, (sh <= wh || wh == h), (sw <= ww || ww == w) else {
            throw LoupeError(.invalidArgument, "`stride` \(sh)x\(sw) must be positive and no larger than the window \(wh)x\(ww)")
        }
        let ny = (h - wh + sh - 1) / sh + 1, nx = (w - ww + sw - 1) / sw + 1
        let (logits, _) = try model.forward(x)
        let target = try model.resolveTarget(request.target.map(String.init), logits: logits, labels: [])
        let base = score(logits, target, request.score)

        // Can the model take a batch? Only if the input's first dimension is not fixed to 1.
        let batchable = model.graph.inputs[0].dims?.first.map { $0.value == nil || $0.value! > 1 } ?? true
        let batch = batchable ? max(1, s.batch) : 1
        let positions = (0..<(ny * nx)).map { (($0 / nx) * sh, ($0 % nx) * sw) }
        var sum = [Double](repeating: 0, count: h * w), count = [Double](repeating: 0, count: h * w)
        let plane = c * h * w
        var done = 0
        while done < positions.count {
            let chunk = Array(positions[done..<min(done + batch, positions.count)])
            let xb = try Tensor(shape: [chunk.count, c, h, w]) { buf in
                for (b, (y0, x0)) in chunk.enumerated() {
                    for i in 0..<plane { buf[b * plane + i] = x.floats[i] }
                    for ch in 0..<c {
                        for y in y0..<min(y0 + wh, h) {
                            for xx in x0..<min(x0 + ww, w) { buf[b * plane + (ch * h + y) * w + xx] = s.baseline }
                        }
                    }
                }
            }
            let l = try model.executor.run([model.inputName: xb], keep: [model.logitsName])[model.logitsName]!
            let k = l.shape.last!
            for (b, (y0, x0)) in chunk.enumerated() {
                let drop = Double(base) - Double(score(Array(l.floats[(b * k)..<((b + 1) * k)]), target, request.score))
                for y in y0..<min(y0 + wh, h) {
                    for xx in x0..<min(x0 + ww, w) { sum[y * w + xx] += drop; count[y * w + xx] += 1 }
                }
            }
            done += chunk.count
            progress?(done, positions.count)
        }
        let map = (0..<(h * w)).map { count[$0] > 0 ? Float(sum[$0] / count[$0]) : 0 }
        return Explanation(method: .occlusion, map: Tensor(shape: [h, w], floats: map), target: target)
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
