import Foundation
import LoupeGraph
import LoupeTensor

/// Score-CAM. Wang, Wang, Du, Yang, Zhang, Ding, Mardziel and Hu, "Score-CAM: Score-Weighted
/// Visual Explanations for Convolutional Neural Networks", CVPR Workshops 2020.
///
/// With A the layer's output [1, K, h, w] for the image x [1, C, H, W]: each channel A_k is
/// upsampled to H×W (bilinear, align_corners = true, as torch's `UpsamplingBilinear2d`),
/// scaled to M_k = (A_k − min) / (max − min + 1e-8), and the masked image x ⊙ M_k goes through
/// the model; its target score s_k (the logit, or the probability with `ScoreKind.probability`)
/// gives the channel weight w = softmax(s_1 … s_K) over the channels. The map is
/// ReLU(Σ_k w_k A_k), h×w at the layer's resolution, unnormalised (pytorch-grad-cam's
/// `ScoreCAM`: its softmax over the raw scores, its masks, its ε). The K masked images run
/// `batch` at a time (one at a time when the model's batch dimension is fixed to 1).
///
/// K forward passes are expensive: a layer with more than `maxChannels` channels is an error
/// that says how long the passes would take, estimated from the first forward pass.
public enum ScoreCAM {
    public struct Settings: Sendable {
        /// Masked images per forward pass (pytorch-grad-cam's default: 16).
        public var batch: Int = 16
        /// The most channels (forward passes) allowed at the layer.
        public var maxChannels: Int = 2048
        public init() {}
    }

    public static func explain(_ model: ExplainableModel, _ x: Tensor, _ request: GradientRequest,
                               layer: String? = nil, settings s: Settings = Settings(),
                               progress: ((Int, Int) -> Void)? = nil) throws -> Explanation {
        guard x.rank == 4, x.shape[0] == 1 else { throw LoupeError.shape("Score-CAM needs one NCHW image [1, C, H, W], got \(describe(x.shape))") }
        guard s.batch >= 1, s.maxChannels >= 1 else {
            throw LoupeError(.invalidArgument, "Score-CAM: `batch` (\(s.batch)) and `maxChannels` (\(s.maxChannels)) must be at least 1")
        }
        let (node, tensor) = try model.resolveLayer(layer, for: x)
        let start = DispatchTime.now().uptimeNanoseconds
        let (logits, values) = try model.forward(x, keep: [tensor])
        let perForward = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let target = try model.resolveTarget(request.target.map(String.init), logits: logits, labels: [])
        let a = try firstItem(values[tensor]!)
        let (k, h, w) = (a.shape[0], a.shape[1], a.shape[2])
        guard k <= s.maxChannels else {
            throw LoupeError(.invalidArgument, "Score-CAM runs one forward pass per channel; layer '\(node)' has \(k) channels, more than `maxChannels` (\(s.maxChannels)). At \(String(format: "%.3g", perForward)) s per forward pass here, that would take about \(duration(Double(k) * perForward)). Choose an earlier layer with `layer`, or raise `maxChannels`")
        }
        let (c, hh, ww) = (x.shape[1], x.shape[2], x.shape[3])
        let rows = alignCornersTaps(inSize: h, outSize: hh), cols = alignCornersTaps(inSize: w, outSize: ww)
        let batch = CAMFamily.batchable(model) ? s.batch : 1
        let plane = hh * ww
        let scores = try inBatches(k, batch: batch, progress: progress) { chunk -> [Double] in
            let xb = try Tensor(shape: [chunk.count, c, hh, ww]) { buf in
                for (b, ch) in chunk.enumerated() {
                    let mask = normalisedMask(a, channel: ch, rows: rows, columns: cols)
                    for ci in 0..<c {
                        let base = (b * c + ci) * plane
                        for i in 0..<plane { buf[base + i] = x.floats[ci * plane + i] * mask[i] }
                    }
                }
            }
            let l = try model.executor.run([model.inputName: xb], keep: [model.logitsName])[model.logitsName]!
            return CAMFamily.scores(l, target: target, kind: request.score)
        }
        let top = scores.max() ?? 0
        let e = scores.map { Foundation.exp($0 - top) }
        let total = e.reduce(0, +)
        return Explanation(method: .scoreCAM, map: CAMFamily.weightedMap(a, weights: e.map { $0 / total }),
                           target: target, layer: node)
    }

    /// Channel `ch` of a [K, h, w] upsampled to the taps' size and scaled to
    /// (m − min) / (max − min + 1e-8).
    static func normalisedMask(_ a: Tensor, channel ch: Int, rows: [(Int, Int, Float)], columns: [(Int, Int, Float)]) -> [Float] {
        let (h, w) = (a.shape[1], a.shape[2])
        var up = [Float](repeating: 0, count: rows.count * columns.count)
        a.floats.withUnsafeBufferPointer { p in
            let src = p.baseAddress! + ch * h * w
            for (y, (r0, r1, ly)) in rows.enumerated() {
                for (xx, (q0, q1, lx)) in columns.enumerated() {
                    let top = (1 - lx) * src[r0 * w + q0] + lx * src[r0 * w + q1]
                    let bottom = (1 - lx) * src[r1 * w + q0] + lx * src[r1 * w + q1]
                    up[y * columns.count + xx] = (1 - ly) * top + ly * bottom
                }
            }
        }
        let lo = up.min()!, hi = up.max()!
        return up.map { ($0 - lo) / (hi - lo + 1e-8) }
    }

    /// Bilinear taps with aligned corners (torch's `align_corners=True`): output d reads
    /// source d·(n − 1)/(m − 1), scale in float32 as torch computes it.
    static func alignCornersTaps(inSize n: Int, outSize m: Int) -> [(Int, Int, Float)] {
        let scale: Float = m > 1 ? Float(n - 1) / Float(m - 1) : 0
        return (0..<m).map { d in
            let src = scale * Float(d)
            let i0 = min(Int(src), n - 1)
            return (i0, min(i0 + 1, n - 1), src - Float(i0))
        }
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 120 { return String(format: "%.0f s", seconds.rounded(.up)) }
        if seconds < 7200 { return String(format: "%.0f min", (seconds / 60).rounded()) }
        return String(format: "%.1f h", seconds / 3600)
    }
}
