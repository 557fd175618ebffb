import LoupeTensor

/// The one rule that decides whether a classifier is CAM-ready (Zhou et al., "Learning Deep
/// Features for Discriminative Localization", CVPR 2016), used by `explain --method cam` and
/// `surgery cam` alike.
///
/// Tails recognised, from the class scores (`ClassScores.logits`) backwards, skipping
/// value-preserving ops (`ClassScores.isValuePreserving`: Identity, Reshape, Flatten,
/// Squeeze, Unsqueeze, Dropout, Cast to float) between any two steps:
/// - Gemm (no transA), or MatMul with an optional bias Add, with constant 2-D weights ←
///   global average pooling;
/// - a 1×1 Conv with constant weights ← global average pooling;
/// - global average pooling ← [Relu] ← 1×1 Conv with constant weights (SqueezeNet's head:
///   the map is then the class channel of that Conv's output before the Relu).
///
/// Global average pooling is GlobalAveragePool, ReduceMean over axes 2 and 3, or an
/// unpadded AveragePool whose kernel covers the whole map.
public struct CAMTail: Sendable {
    /// The feature map A [N, K, h, w] the class map is computed from.
    public var features: String
    /// The node producing `features` (the tensor's name when a graph input produces it).
    public var node: String
    /// The class weights W [classes, K]: class c's map is Σ_k W_ck A_k.
    public var weights: Tensor
    /// One clause saying what the tail is, e.g. "it ends in GlobalAveragePool 'gap' followed
    /// by one linear layer 'fc' (Gemm)".
    public var summary: String

    /// Why a graph is not CAM-ready, in one clause.
    public struct NotReady: Error, Sendable {
        public var reason: String
    }

    /// The CAM tail of `graph` for the class scores `logits`, or why there is none. `types`
    /// (tensor types, as shape inference gives them) are needed only to recognise a
    /// whole-map AveragePool. Weights must be initializers: fold constants first.
    public static func find(in graph: Graph, logits: String, types: [String: TensorType]) -> Result<CAMTail, NotReady> {
        var producer: [String: Node] = [:]
        for n in graph.nodes { for o in n.outputs where !o.isEmpty { producer[o] = n } }
        func skip(_ t: String) -> String {
            var t = t, seen = Set<String>()
            while let n = producer[t], ClassScores.isValuePreserving(n), let i = n.inputs.first, !i.isEmpty, seen.insert(t).inserted { t = i }
            return t
        }
        func source(_ t: String) -> String { producer[t]?.name ?? t }
        func conv1x1(_ n: Node) -> Tensor? {
            guard n.opType == "Conv", n.inputs.count > 1, let w = graph.initializers[n.inputs[1]], w.isFloat,
                  w.rank == 4, w.shape[2] == 1, w.shape[3] == 1 else { return nil }
            return w.reshaped([w.shape[0], w.shape[1]])
        }
        func fail(_ s: String) -> Result<CAMTail, NotReady> { .failure(NotReady(reason: s)) }

        guard var last = producer[skip(logits)] else { return fail("the class scores are not computed by any layer") }
        if last.opType == "Add", let lhs = producer[last.inputs[0]], lhs.opType == "MatMul" { last = lhs }
        switch last.opType {
        case "Gemm", "MatMul":
            let a = Attributes(last.attributes, owner: last.label)
            guard last.inputs.count > 1, let w = graph.initializers[last.inputs[1]], w.rank == 2, w.isFloat else {
                return fail("the last \(last.opType) '\(last.name)' has no constant 2-D weights")
            }
            guard (try? a.int("transA", 0)) == 0 else { return fail("the last Gemm '\(last.name)' transposes its input") }
            let transB = last.opType == "Gemm" ? ((try? a.int("transB", 0)) ?? 0) : 0
            guard let pool = producer[skip(last.inputs[0])], isGlobalAveragePool(pool, graph, types) else {
                return fail("the last linear layer '\(last.name)' is not preceded by global average pooling")
            }
            return .success(CAMTail(features: pool.inputs[0], node: source(pool.inputs[0]),
                                    weights: transB == 0 ? transposed(w) : w,
                                    summary: "it ends in \(pool.opType) '\(pool.name)' followed by one linear layer '\(last.name)' (\(last.opType))"))
        case "Conv":
            guard let w = conv1x1(last) else { return fail("the last layer '\(last.name)' is a Conv without constant 1×1 weights") }
            guard let pool = producer[skip(last.inputs[0])], isGlobalAveragePool(pool, graph, types) else {
                return fail("the 1×1 Conv '\(last.name)' is not preceded by global average pooling")
            }
            return .success(CAMTail(features: pool.inputs[0], node: source(pool.inputs[0]), weights: w,
                                    summary: "it ends in \(pool.opType) '\(pool.name)' followed by one linear layer '\(last.name)' (1×1 Conv)"))
        default:
            if isGlobalAveragePool(last, graph, types) {
                var f = skip(last.inputs[0])
                if let r = producer[f], r.opType == "Relu" { f = skip(r.inputs[0]) }
                if let conv = producer[f], let w = conv1x1(conv) {
                    return .success(CAMTail(features: conv.inputs[0], node: source(conv.inputs[0]), weights: w,
                                            summary: "it ends in a 1×1 Conv '\(conv.name)' followed by \(last.opType) '\(last.name)' (SqueezeNet's head)"))
                }
            }
            return fail("the class scores come from '\(last.name)' (\(last.opType)), not from a linear layer after global average pooling")
        }
    }

    /// GlobalAveragePool; ReduceMean over axes {2, 3} of a 4-D tensor (attribute before opset
    /// 18, constant input after); an AveragePool without padding whose kernel is the map's size.
    static func isGlobalAveragePool(_ n: Node, _ g: Graph, _ types: [String: TensorType]) -> Bool {
        let a = Attributes(n.attributes, owner: n.label)
        switch n.opType {
        case "GlobalAveragePool": return true
        case "ReduceMean":
            let axes = ((try? a.ints("axes")) ?? nil) ?? (n.inputs.count > 1 ? g.initializers[n.inputs[1]]?.intValues : nil)
            return Set((axes ?? []).map { $0 < 0 ? $0 + 4 : $0 }) == [2, 3]
        case "AveragePool":
            guard let t = types[n.inputs[0]], t.shape.count == 4, let k = (try? a.ints("kernel_shape")) ?? nil else { return false }
            let pads = ((try? a.ints("pads")) ?? nil) ?? [0, 0, 0, 0]
            let autoPad = (try? a.string("auto_pad", "NOTSET")) ?? "NOTSET"
            return k == [t.shape[2], t.shape[3]] && pads.allSatisfy { $0 == 0 } && (autoPad == "NOTSET" || autoPad == "VALID")
        default: return false
        }
    }

    /// `w` [r, c] as [c, r].
    static func transposed(_ w: Tensor) -> Tensor {
        let (r, c) = (w.shape[0], w.shape[1])
        var t = [Float](repeating: 0, count: r * c)
        for i in 0..<r { for j in 0..<c { t[j * r + i] = w.floats[i * c + j] } }
        return Tensor(shape: [c, r], floats: t)
    }
}
