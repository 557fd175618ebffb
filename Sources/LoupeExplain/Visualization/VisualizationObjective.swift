import LoupeGraph
import LoupeTensor

/// What a visualisation maximises (Lucent's objectives, lucent/optvis/objectives.py, as
/// gains rather than losses):
/// - `classScore(c)`: the logit of class c, before any final softmax, as `loupe explain` scores
///   it (`ExplainableModel.logitsName`); Lucent's `"labels"` layer objective.
/// - `channel(layer, k)`: the mean of channel k of a layer's output [1, K, h, w] (`channel`).
/// - `neuron(layer, k, y, x)`: one value of that output (`neuron` at an explicit position).
/// The gradient is seeded at that tensor and flows back to the input only.
public enum VisualizationObjective: Sendable, Equatable {
    case classScore(Int)
    case channel(layer: String, channel: Int)
    case neuron(layer: String, channel: Int, y: Int, x: Int)

    /// A short label for pictures: "class 3", "layer:5", "layer:5:2:7".
    public var title: String {
        switch self {
        case .classScore(let c): "class \(c)"
        case .channel(let l, let k): "\(l):\(k)"
        case .neuron(let l, let k, let y, let x): "\(l):\(k):\(y):\(x)"
        }
    }

    /// The objective made concrete for a model and its input shape: the tensor the gradient
    /// is seeded at, the seed, and the objective's value.
    public struct Resolved: Sendable {
        public var tensor: String
        /// The layer's node name (nil for a class score).
        public var node: String?
        public var seed: @Sendable (Tensor) -> Tensor
        public var value: @Sendable (Tensor) -> Float
    }

    /// Checks the objective against the model at input `x`'s shape: the class is within the
    /// scores, the layer exists with a spatial output, the channel and position within it.
    public func resolve(_ model: ExplainableModel, for x: Tensor) throws -> Resolved {
        switch self {
        case .classScore(let c):
            let plan = try model.executor.plan(for: [model.inputName: TensorType(x.dtype, x.shape)])
            guard let t = plan.types[model.logitsName], let k = t.shape.last, k > 0 else {
                throw LoupeError.invalid("the class scores '\(model.logitsName)' have no known shape")
            }
            guard c >= 0, c < k else {
                throw LoupeError(.invalidArgument, "class \(c) is out of range: the model has \(k) classes (0 to \(k - 1))")
            }
            return Resolved(tensor: model.logitsName, node: nil, seed: { v in
                var g = [Float](repeating: 0, count: v.count); g[c] = 1
                return Tensor(shape: v.shape, floats: g)
            }, value: { v in v.floats[c] })
        case .channel(let layer, let k), .neuron(let layer, let k, _, _):
            let (node, tensor) = try model.resolveLayer(layer, for: x)
            let shape = try model.spatialLayers(for: x).first { $0.tensor == tensor }!.shape
            let (kk, h, w) = (shape[1], shape[2], shape[3])
            guard k >= 0, k < kk else {
                throw LoupeError(.invalidArgument, "channel \(k) is out of range: layer '\(layer)' has \(kk) channels (0 to \(kk - 1))")
            }
            let plane = h * w
            if case .neuron(_, _, let y, let xx) = self {
                guard y >= 0, y < h, xx >= 0, xx < w else {
                    throw LoupeError(.invalidArgument, "position (\(y), \(xx)) is outside layer '\(layer)', whose output is \(h)x\(w) (y 0 to \(h - 1), x 0 to \(w - 1))")
                }
                let at = k * plane + y * w + xx
                return Resolved(tensor: tensor, node: node, seed: { v in
                    var g = [Float](repeating: 0, count: v.count); g[at] = 1
                    return Tensor(shape: v.shape, floats: g)
                }, value: { v in v.floats[at] })
            }
            return Resolved(tensor: tensor, node: node, seed: { v in
                var g = [Float](repeating: 0, count: v.count)
                for i in 0..<plane { g[k * plane + i] = 1 / Float(plane) }
                return Tensor(shape: v.shape, floats: g)
            }, value: { v in
                var s: Double = 0
                for i in 0..<plane { s += Double(v.floats[k * plane + i]) }
                return Float(s / Double(plane))
            })
        }
    }
}
