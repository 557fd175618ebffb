import LoupeGraph
import LoupeTensor

/// The graph that computes a model's feature vectors for a batch of images: the model cut
/// after a layer (`Cut`), by default the penultimate feature vector `StripHead` exposes, so
/// that its output equals the `strip-head` model's. A 4-D layer `[N, C, H, W]` is pooled to
/// `[N, C]` (average by default); `.none` keeps it, and a row is then its `C·H·W` values.
/// Where the input's batch is fixed, it is made dynamic (`SetBatch`) so that several images
/// run in one pass, when the graph allows it.
public enum FeatureGraph {
    public struct Result {
        public var graph: Graph
        /// The tensor the features come from.
        public var layer: String
        public var pool: Cut.Pooling
        /// False when the batch stays fixed at 1: images then run one at a time.
        public var batchable: Bool
    }

    /// `layer` is a tensor name (nil: the penultimate features); `pool` nil means average
    /// pooling for a 4-D tensor and none otherwise.
    public static func make(_ graph: Graph, layer: String?, pool: Cut.Pooling?) throws -> Result {
        let tensor = try layer ?? StripHead.featureTensor(graph)
        let rank = try graph.tensorTypes()[tensor]?.shape.count
        let pooling = pool ?? (rank == 4 ? .avg : .none)
        var g = try Cut.apply(graph, at: tensor, pool: pooling)
        var batchable = true
        if let input = g.inputs.first, let fixed = input.dims?.first?.value {
            do {
                g = try SetBatch.apply(g, to: .dynamic).graph
            } catch let e as LoupeError {
                guard fixed == 1 else {
                    throw e.context("the input '\(input.name)' has a fixed batch of \(fixed), which cannot be made dynamic")
                }
                batchable = false
            }
        }
        return Result(graph: g, layer: tensor, pool: pooling, batchable: batchable)
    }
}
