import LoupeGraph
import LoupeTensor

/// The score every metric reads: the softmax probability of the explained class, computed
/// in float64 from the model's logits (`ExplainableModel.logitsName`, the input of a final
/// Softmax when the graph ends in one). RISE wraps its model in a Softmax for the same score;
/// pytorch-grad-cam's `ClassifierOutputSoftmaxTarget` gives it to the ROAD and confidence metrics.
public struct ClassProbability: Sendable {
    public let model: ExplainableModel
    public let target: Int
    /// Images per forward pass (1 when the graph's batch is fixed to 1).
    public let batch: Int

    public init(model: ExplainableModel, target: Int, batch: Int = 16) {
        self.model = model
        self.target = target
        self.batch = model.takesBatches ? max(batch, 1) : 1
    }

    /// p_target for each image of `images`, each of `shape` [1, C, H, W].
    public func callAsFunction(_ images: [[Float]], shape: [Int]) throws -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(images.count)
        var i = 0
        while i < images.count {
            let n = min(batch, images.count - i)
            var flat: [Float] = []
            flat.reserveCapacity(n * images[i].count)
            for k in i..<(i + n) { flat += images[k] }
            let xs = Tensor(shape: [n] + shape.dropFirst(), floats: flat)
            let v = try model.executor.run([model.inputName: xs], keep: [model.logitsName])
            let logits = v[model.logitsName]!
            out += ExplainableModel.scores(logits, target: target, kind: .probability)
            i += n
        }
        return out
    }

    /// p_target for one image [1, C, H, W].
    public func callAsFunction(_ x: Tensor) throws -> Double { try self([x.floats], shape: x.shape)[0] }
}
