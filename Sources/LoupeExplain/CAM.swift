import LoupeGraph
import LoupeTensor

/// Class activation mapping. Zhou, Khosla, Lapedriza, Oliva and Torralba, "Learning Deep
/// Features for Discriminative Localization", CVPR 2016.
///
/// For a network ending in global average pooling of features A [1, K, h, w] followed by one
/// linear layer with weights w (classes × K), the map of class c is Σ_k w_ck A_k: h×w at the
/// feature map's resolution, after a ReLU (so that it matches Grad-CAM's contract; for this
/// tail Grad-CAM equals CAM up to the factor 1/(h·w)), not normalised, bias left out.
///
/// Tails recognised, from the class scores backwards: [Flatten | Reshape] ← Gemm, or MatMul
/// (+ Add), ← [Flatten | Reshape] ← global pooling (GlobalAveragePool, ReduceMean over the
/// spatial axes, or an AveragePool covering the whole map); or a 1×1 Conv right after the
/// pooling; or a 1×1 Conv, an optional Relu, then the pooling (SqueezeNet's head: the map is
/// then the class channel of that Conv's output before the Relu). Anything else is an error
/// that names the surgery command that adds such a tail.
public enum CAM {
    public static func explain(_ model: ExplainableModel, _ x: Tensor, _ request: GradientRequest) throws -> Explanation {
        let plan = try model.executor.plan(for: [model.inputName: TensorType(x.dtype, x.shape)])
        let tail = try findTail(plan.graph, logits: model.logitsName, types: plan.types)
        let (logits, values) = try model.forward(x, keep: [tail.features])
        let target = try model.resolveTarget(request.target.map(String.init), logits: logits, labels: [])
        let a = try firstItem(values[tail.features]!)
        let (k, h, w) = (a.shape[0], a.shape[1], a.shape[2])
        guard tail.weights.shape.count == 2, tail.weights.shape[1] == k, target < tail.weights.shape[0] else {
            throw LoupeError.shape("CAM: weights \(describe(tail.weights.shape)) do not match features \(describe(a.shape)) and target \(target)")
        }
        var out = [Float](repeating: 0, count: h * w)
        for c in 0..<k {
            let wc = tail.weights.floats[target * k + c]
            for i in 0..<(h * w) { out[i] += wc * a.floats[c * h * w + i] }
        }
        return Explanation(method: .cam, map: Tensor(shape: [h, w], floats: out.map { max($0, 0) }), target: target, layer: tail.node)
    }

    /// The features tensor, the node producing it, and the class weights [classes, K].
    struct Tail {
        var features: String
        var node: String
        var weights: Tensor
    }

    static func notReady(_ why: String) -> LoupeError {
        LoupeError.unsupported("CAM needs a model ending in global average pooling and one linear layer; \(why). Restructure it with `loupe surgery cam MODEL -o OUT.onnx --images DIR`, or use --method grad-cam")
    }

    static func findTail(_ g: Graph, logits: String, types: [String: TensorType]) throws -> Tail {
        var producer: [String: Node] = [:]
        for n in g.nodes { for o in n.outputs { producer[o] = n } }
        func skipReshapes(_ t: String) -> String {
            var t = t
            while let n = producer[t], n.opType == "Flatten" || n.opType == "Reshape" || n.opType == "Squeeze" { t = n.inputs[0] }
            return t
        }
        func isGlobalPool(_ n: Node) -> Bool {
            switch n.opType {
            case "GlobalAveragePool": return true
            case "ReduceMean":
                let axes = (try? Attributes(n.attributes, owner: n.label).ints("axes")) ?? nil
                let ax = axes ?? (n.inputs.count > 1 ? g.initializers[n.inputs[1]]?.intValues : nil)
                return Set((ax ?? []).map { $0 < 0 ? $0 + 4 : $0 }) == [2, 3]
            case "AveragePool":
                guard let t = types[n.inputs[0]], t.shape.count == 4,
                      let k = try? Attributes(n.attributes, owner: n.label).ints("kernel_shape") else { return false }
                return k == [t.shape[2], t.shape[3]]
            default: return false
            }
        }
        func weights2D(_ w: Tensor, transposed: Bool) -> Tensor {
            guard transposed else { return w }
            let (r, c) = (w.shape[0], w.shape[1])
            var t = [Float](repeating: 0, count: r * c)
            for i in 0..<r { for j in 0..<c { t[j * r + i] = w.floats[i * c + j] } }
            return Tensor(shape: [c, r], floats: t)
        }
        var t = skipReshapes(logits)
        guard var last = producer[t] else { throw notReady("the class scores are not computed by any layer") }
        if last.opType == "Add", let lhs = producer[last.inputs[0]], lhs.opType == "MatMul" { last = lhs }
        switch last.opType {
        case "Gemm", "MatMul":
            let a = Attributes(last.attributes, owner: last.label)
            guard let w = g.initializers[last.inputs[1]], w.rank == 2, w.isFloat else { throw notReady("the last \(last.opType) has no constant 2-D weights") }
            guard (try? a.int("transA", 0)) == 0 else { throw notReady("the last Gemm transposes its input") }
            let transB = last.opType == "Gemm" ? ((try? a.int("transB", 0)) ?? 0) : 0
            t = skipReshapes(last.inputs[0])
            guard let pool = producer[t], isGlobalPool(pool) else {
                throw notReady("the last linear layer '\(last.name)' is not preceded by global average pooling")
            }
            return Tail(features: pool.inputs[0], node: producer[pool.inputs[0]]?.name ?? pool.inputs[0],
                        weights: weights2D(w, transposed: transB == 0))
        case "Conv":
            guard let w = g.initializers[last.inputs[1]], w.rank == 4, w.shape[2] == 1, w.shape[3] == 1 else {
                throw notReady("the last layer '\(last.name)' is a Conv that is not 1×1")
            }
            let w2 = w.reshaped([w.shape[0], w.shape[1]])
            guard let pool = producer[last.inputs[0]], isGlobalPool(pool) else {
                throw notReady("the 1×1 Conv '\(last.name)' is not preceded by global average pooling")
            }
            return Tail(features: pool.inputs[0], node: producer[pool.inputs[0]]?.name ?? pool.inputs[0], weights: w2)
        default:
            // SqueezeNet-style head: 1×1 Conv → [Relu] → global pooling → [Flatten].
            if isGlobalPool(last) {
                var f = last.inputs[0]
                if let r = producer[f], r.opType == "Relu" { f = r.inputs[0] }
                if let conv = producer[f], conv.opType == "Conv", let w = g.initializers[conv.inputs[1]],
                   w.rank == 4, w.shape[2] == 1, w.shape[3] == 1 {
                    return Tail(features: conv.inputs[0], node: producer[conv.inputs[0]]?.name ?? conv.inputs[0],
                                weights: w.reshaped([w.shape[0], w.shape[1]]))
                }
            }
            throw notReady("the class scores come from '\(last.name)' (\(last.opType)), not from a linear layer after global average pooling")
        }
    }
}
