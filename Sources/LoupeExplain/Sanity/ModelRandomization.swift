import Foundation
import LoupeGraph
import LoupeTensor

/// Cascading model-parameter randomisation (Adebayo et al., "Sanity Checks for Saliency Maps",
/// NeurIPS 2018, §3.1): the layers with weights are re-drawn one at a time from the output
/// toward the input, each step keeping the layers re-drawn before it.
///
/// - Layers: every Conv, Gemm and MatMul node whose weight is an initializer (Conv: W and the
///   optional B; Gemm: B and the optional C; MatMul: the one operand that is an initializer; a
///   bias added by a following Add is left as it is). Their order is the reverse of the graph's
///   topological order (`Graph.sortTopologically`, stable with respect to the file), not the
///   order in which the layers were defined in code: the layer nearest the output goes first.
/// - Distribution: each float tensor (weight and bias) is replaced by independent draws from
///   N(0, σ²), σ the tensor's own standard deviation (population, about its mean), so that each
///   layer keeps its scale; a tensor whose values are all equal (σ = 0, e.g. zero biases) keeps
///   its values. The normal draws come from `SplitMix64(seed:)` by Box–Muller, tensor after
///   tensor in the randomisation order, so a seed gives the same weights on every platform.
/// - BatchNormalization scale, bias, mean and variance are kept, as in Adebayo's code: re-drawn
///   variances can be negative or near zero and make the normalisation divide by the square
///   root of a negative number or of almost nothing (NaN or huge values).
public struct ModelRandomization: Sendable {
    /// One layer that is re-drawn: its node, op and the initializers replaced.
    public struct Layer: Sendable, Equatable {
        public var node: String
        public var opType: String
        public var tensors: [String]
    }

    /// The graph, topologically sorted, with its original weights.
    public let graph: Graph
    /// Output toward input: step k re-draws `layers[0..<k]`.
    public let layers: [Layer]
    /// The re-drawn tensors, by initializer name.
    public let randomized: [String: Tensor]
    public let seed: UInt64

    public static let opTypes: Set<String> = ["Conv", "Gemm", "MatMul"]

    public init(graph: Graph, seed: UInt64) throws {
        var g = graph
        try g.sortTopologically()
        self.graph = g
        self.seed = seed
        var layers: [Layer] = []
        var seen = Set<String>()
        for n in g.nodes.reversed() where Self.opTypes.contains(n.opType) {
            let candidates: [String]
            switch n.opType {
            case "MatMul":
                let constant = n.inputs.prefix(2).filter { g.initializers[$0] != nil }
                candidates = constant.count == 1 ? constant : []
            default:
                candidates = Array(n.inputs.dropFirst().prefix(2))
            }
            let tensors = candidates.filter { !$0.isEmpty && g.initializers[$0]?.isFloat == true && !seen.contains($0) }
            guard let first = candidates.first, g.initializers[first] != nil, !tensors.isEmpty else { continue }
            seen.formUnion(tensors)
            layers.append(Layer(node: n.name, opType: n.opType, tensors: tensors))
        }
        self.layers = layers
        var rng = SplitMix64(seed: seed)
        var drawn: [String: Tensor] = [:]
        for l in layers {
            for name in l.tensors {
                let t = g.initializers[name]!
                let sigma = Self.standardDeviation(t.floats)
                guard sigma > 0 else { drawn[name] = t; continue }
                var v = [Float](repeating: 0, count: t.count)
                for i in v.indices { v[i] = Float(sigma * Self.normal(&rng)) }
                drawn[name] = Tensor(shape: t.shape, floats: v, dtype: t.dtype)
            }
        }
        randomized = drawn
    }

    /// The graph with `layers[0..<count]` re-drawn (0: the original).
    public func graph(randomizedThrough count: Int) -> Graph {
        var g = graph
        for l in layers.prefix(count) {
            for name in l.tensors { g.initializers[name] = randomized[name] }
        }
        return g
    }

    /// Population standard deviation, in Double.
    public static func standardDeviation(_ x: [Float]) -> Double {
        guard !x.isEmpty else { return 0 }
        let n = Double(x.count)
        let m = x.reduce(0.0) { $0 + Double($1) } / n
        return (x.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / n).squareRoot()
    }

    /// A standard normal draw (Box–Muller, the cosine branch, 53-bit uniforms).
    static func normal(_ rng: inout SplitMix64) -> Double {
        let u1 = (Double(rng.next() >> 11) + 1) / 9_007_199_254_740_992   // (0, 1]
        let u2 = Double(rng.next() >> 11) / 9_007_199_254_740_992
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
