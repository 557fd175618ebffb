import LoupeGraph
import LoupeTensor

/// A classifier ready to be explained: its graph and executor, the one image input, the class
/// scores, and the layers a method can look at.
///
/// The score s_c of class c is the logit: the output itself, or the input of a final
/// Softmax when the graph ends in one, possibly followed by ops that leave values unchanged
/// (`ClassScores`: Identity, Reshape, Flatten, Squeeze, Unsqueeze, Dropout, Cast to float).
/// With `ScoreKind.probability` methods differentiate the softmax probability instead.
public final class ExplainableModel: @unchecked Sendable {
    /// The model's graph, with a channels-last image input made NCHW (`withNCHWImageInput`):
    /// every method takes [1, C, H, W], and inputs are prepared for this graph's input.
    public let graph: Graph
    public let executor: Executor
    public let inputName: String
    /// The tensor holding class scores before any final softmax, shape [N, classes].
    public let logitsName: String
    /// The graph output (equal to `logitsName` unless the graph ends in a Softmax).
    public let outputName: String
    public let endsInSoftmax: Bool

    public enum ScoreKind: String, Sendable, CaseIterable { case logit, probability }

    public init(graph: Graph) throws {
        var g = graph.withNCHWImageInput()
        try g.sortTopologically()
        self.graph = g
        executor = try Executor(graph: g)
        guard g.inputs.count == 1 else {
            throw LoupeError(.invalidArgument, "explanations need a model with one input; this one has \(g.inputs.count) (\(g.inputs.map(\.name).joined(separator: ", ")))")
        }
        inputName = g.inputs[0].name
        let scores = try ClassScores(g)
        outputName = scores.output
        logitsName = scores.logits
        endsInSoftmax = scores.endsInSoftmax
    }

    /// Runs the model; returns the logits row [classes] of batch item 0 and the tensors in `keep`.
    public func forward(_ x: Tensor, keep: Set<String> = [], fused: Bool = true) throws -> (logits: [Float], values: [String: Tensor]) {
        let v = try executor.run([inputName: x], keep: keep.union([logitsName]), fused: fused)
        let l = v[logitsName]!
        guard let k = l.shape.last, k > 0, l.isFloat else {
            throw LoupeError.invalid("the class scores '\(logitsName)' have shape \(describe(l.shape)); expected [N, classes]")
        }
        return (Array(l.floats[0..<k]), v)
    }

    /// The target class: `spec` as an index or a label from `labels`, or the top class.
    public func resolveTarget(_ spec: String?, logits: [Float], labels: [String]) throws -> Int {
        guard let spec else { return logits.indices.max { logits[$0] < logits[$1] }! }
        if let i = Int(spec) {
            guard i >= 0, i < logits.count else {
                throw LoupeError(.invalidArgument, "target \(i) is out of range: the model has \(logits.count) classes (0 to \(logits.count - 1))")
            }
            return i
        }
        guard let i = labels.firstIndex(of: spec) else {
            throw LoupeError(.invalidArgument, "target '\(spec)' is neither a class index nor a label" + (labels.isEmpty ? " (no `labels` given)" : ""))
        }
        guard i < logits.count else {
            throw LoupeError(.invalidArgument, "label '\(spec)' is class \(i) but the model has \(logits.count) classes")
        }
        return i
    }

    /// The seed gradient on the logits for class `target`: one-hot for the logit, or
    /// ∂p_c/∂z = p_c (e_c − p) for the softmax probability.
    public func seed(logits: Tensor, target: Int, score: ScoreKind) throws -> Tensor {
        guard let k = logits.shape.last else { throw LoupeError.invalid("empty logits") }
        var g = [Float](repeating: 0, count: logits.count)
        let row = Array(logits.floats[0..<k])
        switch score {
        case .logit:
            g[target] = 1
        case .probability:
            let p = softmaxDouble(row)
            for j in 0..<k { g[j] = Float(p[target] * ((j == target ? 1 : 0) - p[j])) }
        }
        return Tensor(shape: logits.shape, floats: g)
    }

    // MARK: - Layers

    /// Nodes whose first output is a 4-D tensor with spatial size above 1, in execution
    /// order, for the given input shape: the layers Grad-CAM and activation maps can use.
    public func spatialLayers(for x: Tensor) throws -> [(node: String, tensor: String, shape: [Int])] {
        let plan = try executor.plan(for: [inputName: TensorType(x.dtype, x.shape)])
        return plan.graph.nodes.compactMap { n in
            guard let o = n.outputs.first, let t = plan.types[o], t.shape.count == 4, t.shape[2] * t.shape[3] > 1 else { return nil }
            return (n.name, o, t.shape)
        }
    }

    /// The tensor a `--layer` names: a node name as `inspect` lists it, or a tensor name;
    /// nil picks the last spatial layer. Unknown names list the valid ones.
    public func resolveLayer(_ name: String?, for x: Tensor) throws -> (node: String, tensor: String) {
        let layers = try spatialLayers(for: x)
        guard !layers.isEmpty else { throw LoupeError.invalid("the model has no layer with a spatial (4-D) output") }
        guard let name else { return (layers.last!.node, layers.last!.tensor) }
        if let l = layers.first(where: { $0.node == name || $0.tensor == name }) { return (l.node, l.tensor) }
        if let n = graph.nodes.first(where: { $0.name == name || $0.outputs.contains(name) }) {
            throw LoupeError(.invalidArgument, "layer '\(name)' (\(n.opType)) has no 4-D spatial output at this input size; spatial layers: \(Self.listing(layers))")
        }
        throw LoupeError(.invalidArgument, "no layer named '\(name)'; valid layers (node names, as `loupe inspect` lists them): \(Self.listing(layers))")
    }

    static func listing(_ layers: [(node: String, tensor: String, shape: [Int])]) -> String {
        let names = layers.map(\.node)
        return names.count <= 60 ? names.joined(separator: ", ") : (names.prefix(30) + ["…"] + names.suffix(29)).joined(separator: ", ")
    }
}

import Foundation
