import LoupeGraph
import LoupeTensor

/// Ablation-CAM. Desai and Ramaswamy, "Ablation-CAM: Visual Explanations for Deep
/// Convolutional Network via Gradient-free Localization", WACV 2020.
///
/// With A the layer's output [1, K, h, w] and s the target score (the logit, or the
/// probability with `ScoreKind.probability`): for each channel k the rest of the network runs
/// on A with channel k ablated, giving s_k, and the channel weight is w_k = (s − s_k) / s, the
/// relative drop. The map is ReLU(Σ_k w_k A_k), h×w at the layer's resolution, unnormalised.
/// As pytorch-grad-cam's `AblationCAM` (with its `AblationLayer`): an ablated channel is set to
/// 0 when the layer's smallest activation is 0 (after a ReLU), and otherwise to that smallest
/// value minus 1e7. Only the layers after A run again (`Graph.fedAt`), on `batch` ablated
/// copies at a time (one at a time when the model's batch dimension is fixed to 1).
public enum AblationCAM {
    public struct Settings: Sendable {
        /// Ablated copies per forward pass (pytorch-grad-cam's default: 32).
        public var batch: Int = 32
        public init() {}
    }

    public static func explain(_ model: ExplainableModel, _ x: Tensor, _ request: GradientRequest,
                               layer: String? = nil, settings s: Settings = Settings(),
                               progress: ((Int, Int) -> Void)? = nil) throws -> Explanation {
        guard x.rank == 4, x.shape[0] == 1 else { throw LoupeError.shape("Ablation-CAM needs one NCHW image [1, C, H, W], got \(describe(x.shape))") }
        guard s.batch >= 1 else { throw LoupeError(.invalidArgument, "Ablation-CAM: `batch` (\(s.batch)) must be at least 1") }
        let (node, tensor) = try model.resolveLayer(layer, for: x)
        let (logits, values) = try model.forward(x, keep: [tensor])
        let target = try model.resolveTarget(request.target.map(String.init), logits: logits, labels: [])
        let base = Double(Occlusion.score(logits, target, request.score))
        guard base != 0 else {
            throw LoupeError(.invalidArgument, "Ablation-CAM divides by the target score, which is 0 for class \(target) on this image")
        }
        let full = values[tensor]!
        let a = try firstItem(full)
        let (k, h, w) = (a.shape[0], a.shape[1], a.shape[2])
        let plane = h * w, per = k * plane
        let lowest = a.floats.min()!
        let ablated: Float = lowest == 0 ? 0 : lowest - 1e7

        let rest = model.graph.fedAt(tensor: tensor, output: model.logitsName)
        let needsImage = rest.inputs.contains { $0.name == model.inputName }
        let executor = try Executor(graph: rest)
        let batch = CAMFamily.batchable(model) ? s.batch : 1
        let scores = try inBatches(k, batch: batch, progress: progress) { chunk -> [Double] in
            let ab = try Tensor(shape: [chunk.count, k, h, w]) { buf in
                for (b, ch) in chunk.enumerated() {
                    for i in 0..<per { buf[b * per + i] = a.floats[i] }
                    for i in 0..<plane { buf[b * per + ch * plane + i] = ablated }
                }
            }
            var feeds = [tensor: ab]
            if needsImage {
                let n = x.count
                feeds[model.inputName] = try Tensor(shape: [chunk.count] + Array(x.shape.dropFirst())) { buf in
                    for b in 0..<chunk.count { for i in 0..<n { buf[b * n + i] = x.floats[i] } }
                }
            }
            let l = try executor.run(feeds, keep: [model.logitsName])[model.logitsName]!
            return CAMFamily.scores(l, target: target, kind: request.score)
        }
        let weights = scores.map { (base - $0) / base }
        return Explanation(method: .ablationCAM, map: CAMFamily.weightedMap(a, weights: weights), target: target, layer: node)
    }
}
