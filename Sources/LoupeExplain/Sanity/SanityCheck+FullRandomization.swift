import Foundation
import LoupeGraph
import LoupeTensor

extension SanityCheck {
    /// The last step of the cascading randomisation of Adebayo et al. (NeurIPS 2018, §3.1) alone:
    /// the model with every layer of `ModelRandomization` re-drawn, built once, so that a method's
    /// explanation already computed on the original model is checked with one more explanation
    /// on this copy (what `loupe report` shows beside each map; `SanityCheck.run` walks every
    /// step instead). Same layers, distribution and seed as `SanityCheck.run`: its last step
    /// and `compare` give the same similarities.
    public struct FullRandomization: Sendable {
        public let randomization: ModelRandomization
        /// The original model with every layer of `randomization` re-drawn.
        public let model: ExplainableModel
        let original: ExplainableModel

        /// Throws when the model has no layer to randomise.
        public init(model: ExplainableModel, seed: UInt64) throws {
            randomization = try ModelRandomization(graph: model.graph, seed: seed)
            guard !randomization.layers.isEmpty else {
                throw LoupeError(.invalidArgument, "the model has no Conv, Gemm or MatMul layer with constant weights to randomise")
            }
            self.model = try ExplainableModel(graph: randomization.graph(randomizedThrough: randomization.layers.count))
            self.original = model
        }

        /// The similarities between `explanation` (made by its method on the original model for
        /// `input` with `options`, whose `target` must be set) and the same method's map on the
        /// randomised model. Maps are compared as `SanityCheck.run` compares them. A non-finite
        /// score or map throws an error naming the first layer, in randomisation order, whose
        /// (cumulative) randomisation makes it non-finite.
        public func compare(_ explanation: Explanation, input x: Tensor, options: Method.Options) throws -> Similarity.Scores {
            precondition(options.target != nil, "the target must be the one the explanation was made for")
            let method = explanation.method
            let original = try SanityCheck.comparable(explanation, size: SanityCheck.inputSize(x))
            return try SanityCheck.compare(original, method: method, on: model, input: x, options: options) { map in
                try firstNonFinite(method: map ? method : nil, input: x, options: options)
            }
        }

        /// Walks the cascade from the output until the scores (or, with `method`, its map)
        /// stop being finite; the last layer when only the full randomisation does it.
        func firstNonFinite(method: Method?, input x: Tensor, options: Method.Options) throws -> ModelRandomization.Layer {
            for (k, layer) in randomization.layers.enumerated().dropLast() {
                let m = try ExplainableModel(graph: randomization.graph(randomizedThrough: k + 1))
                let (logits, _) = try m.forward(x)
                if !logits.allSatisfy(\.isFinite) { return layer }
                if let method, !(try method.run(on: m, input: x, options: options).map.floats.allSatisfy(\.isFinite)) { return layer }
            }
            return randomization.layers.last!
        }
    }
}
