import LoupeGraph
import LoupeTensor

/// Restructuring a classifier for class activation mapping (Zhou et al., "Learning Deep
/// Features for Discriminative Localization", CVPR 2016): everything after the last spatial
/// feature map A [N, K, h, w] is replaced by global average pooling and one linear layer,
///
///     A ─► GlobalAveragePool [N, K, 1, 1] ─► Flatten [N, K] ─► Gemm (W [classes, K], b) ─► scores
///
/// (then the original final Softmax, if the model had one), so that the map of class c is
/// Σ_k W_ck A_k. The new weights come from `HeadTraining`.
public enum CAMHead {
    /// The tensor holding the class scores (the input of a final Softmax/LogSoftmax, if any),
    /// and that final node.
    public static func scores(_ graph: Graph) throws -> (logits: String, softmax: Node?) {
        guard let out = graph.outputs.first?.name else { throw LoupeError.invalid("the model has no output") }
        if let p = graph.nodes.first(where: { $0.outputs.contains(out) }), p.opType == "Softmax" || p.opType == "LogSoftmax" {
            return (p.inputs[0], p)
        }
        return (out, nil)
    }

    /// Why the model already ends the way CAM needs (global average pooling and one linear
    /// layer, or a 1×1 Conv before the pooling as in SqueezeNet), or nil when it does not.
    public static func readyTail(_ graph: Graph) throws -> String? {
        var g = graph
        try g.sortTopologically()
        try g.foldConstants()  // weights computed by constant nodes (ConstantOfShape, ...) become initializers
        let producer = g.producers()
        func node(_ t: String) -> Node? { producer[t].map { g.nodes[$0] } }
        func skipReshapes(_ t: String) -> String {
            var t = t
            while let n = node(t), ["Flatten", "Reshape", "Squeeze", "Identity", "Dropout"].contains(n.opType) { t = n.inputs[0] }
            return t
        }
        func isGlobalAveragePool(_ n: Node) -> Bool {
            if n.opType == "GlobalAveragePool" { return true }
            if n.opType == "ReduceMean" {
                let a = Attributes(n.attributes, owner: n.label)
                let axes = (try? a.ints("axes")) ?? nil ?? (n.inputs.count > 1 ? g.initializers[n.inputs[1]]?.intValues : nil)
                return Set((axes ?? []).map { $0 < 0 ? $0 + 4 : $0 }) == [2, 3]
            }
            return false
        }
        let (logits, _) = try scores(g)
        var t = skipReshapes(logits)
        guard var last = node(t) else { return nil }
        if last.opType == "Add", let lhs = node(last.inputs[0]), lhs.opType == "MatMul" { last = lhs }
        switch last.opType {
        case "Gemm", "MatMul", "Conv":
            if last.opType == "Conv", let w = g.initializers[last.inputs[1]], !(w.rank == 4 && w.shape[2] == 1 && w.shape[3] == 1) { return nil }
            t = skipReshapes(last.inputs[0])
            if let pool = node(t), isGlobalAveragePool(pool) {
                return "it ends in \(pool.opType) '\(pool.name)' followed by one linear layer '\(last.name)' (\(last.opType))"
            }
            return nil
        default:
            guard isGlobalAveragePool(last) else { return nil }
            var f = last.inputs[0]
            if let r = node(f), r.opType == "Relu" { f = r.inputs[0] }
            if let conv = node(f), conv.opType == "Conv", let w = g.initializers[conv.inputs[1]], w.rank == 4, w.shape[2] == 1, w.shape[3] == 1 {
                return "it ends in a 1×1 Conv '\(conv.name)' followed by \(last.opType) '\(last.name)' (SqueezeNet's head)"
            }
            return nil
        }
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
        throw LoupeError(.invalidArgument, "the model has no spatial layer before its class scores (no tensor [N, C, H, W] with H·W > 1 on the way from the input), so CAM cannot apply; use --at NAME to name the feature map")
    }

    /// The graph cut after `features` [N, K, h, w] with the CAM head: W [classes, K] and
    /// b [classes]. The output keeps its name (and a final Softmax, if the model had one).
    public static func build(_ graph: Graph, features: String, weights: [Float], bias: [Float]) throws -> Graph {
        var g = graph
        try g.sortTopologically()
        let (_, softmax) = try scores(g)
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
            throw LoupeError(.invalidArgument, "the output '\(outName)' is computed at or before the feature map '\(features)'; cut earlier with --at")
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
            g.nodes.append(Node(name: fresh("cam/" + s.opType), opType: s.opType, inputs: [logits], outputs: [outName], attributes: s.attributes))
        }
        g.outputs = [ValueInfo(name: outName, dtype: .float32, dims: nil)]
        g.outputs = try g.outputInfos([outName])
        try g.validate()
        return g
    }
}
