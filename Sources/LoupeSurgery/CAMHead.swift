import LoupeGraph
import LoupeTensor

/// Restructuring a classifier for class activation mapping (Zhou et al., "Learning Deep
/// Features for Discriminative Localization", CVPR 2016): everything after the last spatial
/// feature map A [N, K, h, w] is replaced by global average pooling and one linear layer,
///
///     A ─► GlobalAveragePool [N, K, 1, 1] ─► Flatten [N, K] ─► Gemm (W [classes, K], b) ─► scores
///
/// (then the original final Softmax and the value-preserving ops after it, if the model had
/// them), so that the map of class c is
/// Σ_k W_ck A_k. The new weights come from `HeadTraining`.
public enum CAMHead {
    /// The tensor holding the class scores and the final Softmax/LogSoftmax, if any
    /// (`ClassScores`: the softmax may be followed by value-preserving ops).
    public static func scores(_ graph: Graph) throws -> (logits: String, softmax: Node?) {
        let s = try ClassScores(graph)
        return (s.logits, s.softmax)
    }

    /// Why the model already ends the way CAM needs, or nil when it does not: `CAMTail`'s rule,
    /// the one `explain --method cam` uses (global average pooling and one linear layer, or a
    /// 1×1 Conv before the pooling as in SqueezeNet).
    public static func readyTail(_ graph: Graph) throws -> String? {
        var g = graph
        try g.sortTopologically()
        try g.foldConstants()  // weights computed by constant nodes (ConstantOfShape, ...) become initializers
        let types = (try? g.tensorTypes()) ?? [:]  // only a whole-map AveragePool needs them
        if case .success(let tail) = CAMTail.find(in: g, logits: try ClassScores(g).logits, types: types) { return tail.summary }
        return nil
    }

    /// The last spatial feature map the class scores are computed from: walking back from the
    /// scores along each node's first non-constant input, the first tensor of shape
    /// [N, K, h, w] with h·w > 1, then back through any pooling (MaxPool, AveragePool, LpPool)
    /// that produced it, to the last convolution block's output.
    public static func featureTensor(_ graph: Graph) throws -> String {
        var g = graph
        try g.sortTopologically()
        let types = try g.tensorTypes()
        let producer = g.producers()
        var t = try scores(g).logits
        var seen = Set<String>()
        func isSpatial(_ t: String) -> Bool {
            guard let ty = types[t], ty.shape.count == 4 else { return false }
            return ty.shape[2] * ty.shape[3] > 1
        }
        while let pi = producer[t], seen.insert(t).inserted {
            if isSpatial(t) {
                // Trailing pooling belongs to the head, as in Zhou et al. (conv5_3 without pool5):
                // keep the last convolution block's full-resolution map.
                var f = t
                while let p = producer[f], ["MaxPool", "AveragePool", "LpPool", "Dropout", "Identity"].contains(g.nodes[p].opType),
                      isSpatial(g.nodes[p].inputs[0]) {
                    f = g.nodes[p].inputs[0]
                }
                return f
            }
            guard let next = g.nodes[pi].inputs.first(where: { !$0.isEmpty && g.initializers[$0] == nil && types[$0].map { !$0.dtype.isFloatingPoint } != true }) else { break }
            t = next
        }
        throw LoupeError(.invalidArgument, "the model has no spatial layer before its class scores (no tensor [N, C, H, W] with H·W > 1 on the way from the input), so CAM cannot apply; use `at` NAME to name the feature map")
    }

    /// The graph cut after `features` [N, K, h, w] with the CAM head: W [classes, K] and
    /// b [classes]. The output keeps its name (and a final Softmax, with any Reshape, Flatten,
    /// ... after it, if the model had one).
    public static func build(_ graph: Graph, features: String, weights: [Float], bias: [Float]) throws -> Graph {
        var g = graph
        try g.sortTopologically()
        let scores = try ClassScores(g)
        let softmax = scores.softmax
        // The value-preserving ops after the softmax are kept too when their other inputs
        // (Reshape's shape, Squeeze's axes, ...) are constants.
        var constants = g
        try constants.foldConstants()
        let tail = scores.passThrough.allSatisfy { $0.inputs.dropFirst().allSatisfy { $0.isEmpty || constants.initializers[$0] != nil } }
            ? scores.passThrough : []
        let types = try g.tensorTypes()
        guard let ft = types[features], ft.shape.count == 4 else {
            let shape = types[features].map { describe($0.shape) } ?? "unknown"
            throw LoupeError(.invalidArgument, "CAM needs a spatial feature map [N, K, H, W]; '\(features)' has shape \(shape)")
        }
        let k = ft.shape[1], classes = bias.count
        guard classes > 0, weights.count == classes * k else {
            throw LoupeError.shape("CAM head: weights of \(weights.count) values do not match \(classes) classes × \(k) features")
        }
        let outName = g.outputs[0].name
        g.outputs = [ValueInfo(name: features, dtype: ft.dtype, dims: nil)]
        g.eliminateDeadNodes()
        try g.requirePathsFromInputs("cutting after '\(features)'")
        var taken = g.allNames
        guard !taken.contains(outName) else {
            throw LoupeError(.invalidArgument, "the output '\(outName)' is computed at or before the feature map '\(features)'; cut earlier with `at`")
        }
        taken.insert(outName)
        func fresh(_ s: String) -> String { let n = g.freshName(s, taken: taken); taken.insert(n); return n }
        let pooled = fresh("cam/pooled"), flat = fresh("cam/features"), wName = fresh("cam/fc.weight"), bName = fresh("cam/fc.bias")
        let logits = softmax == nil ? outName : fresh("cam/logits")
        g.initializers[wName] = Tensor(shape: [classes, k], floats: weights)
        g.initializers[bName] = Tensor(shape: [classes], floats: bias)
        g.nodes.append(Node(name: fresh("cam/GlobalAveragePool"), opType: "GlobalAveragePool", inputs: [features], outputs: [pooled]))
        g.nodes.append(Node(name: fresh("cam/Flatten"), opType: "Flatten", inputs: [pooled], outputs: [flat], attributes: ["axis": .int(1)]))
        g.nodes.append(Node(name: fresh("cam/Gemm"), opType: "Gemm", inputs: [flat, wName, bName], outputs: [logits],
                            attributes: ["transB": .int(1)]))
        if let s = softmax {
            var t = tail.isEmpty ? outName : fresh("cam/" + s.opType)
            g.nodes.append(Node(name: fresh("cam/" + s.opType), opType: s.opType, inputs: [logits], outputs: [t], attributes: s.attributes))
            for (i, n) in tail.enumerated() {
                var inputs = n.inputs
                inputs[0] = t
                for (j, c) in inputs.enumerated().dropFirst() where !c.isEmpty {
                    inputs[j] = fresh("cam/" + c)
                    g.initializers[inputs[j]] = constants.initializers[c]!
                }
                t = i == tail.count - 1 ? outName : fresh("cam/" + n.opType)
                g.nodes.append(Node(name: fresh("cam/" + n.opType), opType: n.opType, inputs: inputs, outputs: [t], attributes: n.attributes))
            }
        }
        g.outputs = [ValueInfo(name: outName, dtype: .float32, dims: nil)]
        g.outputs = try g.outputInfos([outName])
        try g.validate()
        return g
    }
}
