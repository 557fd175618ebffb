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
/// The tails recognised are `CAMTail`'s, the rule `surgery cam` uses too: a linear layer (Gemm,
/// MatMul + Add, or a 1×1 Conv) after global pooling, or SqueezeNet's 1×1 Conv → [Relu] →
/// global pooling (the map is then the class channel of that Conv's output before the Relu).
/// Anything else is an error that names the surgery command that adds such a tail.
public enum CAM {
    public static func explain(_ model: ExplainableModel, _ x: Tensor, _ request: GradientRequest) throws -> Explanation {
        let plan = try model.executor.plan(for: [model.inputName: TensorType(x.dtype, x.shape)])
        let tail: CAMTail
        switch CAMTail.find(in: plan.graph, logits: model.logitsName, types: plan.types) {
        case .success(let t): tail = t
        case .failure(let e): throw notReady(e.reason)
        }
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

    static func notReady(_ why: String) -> LoupeError {
        LoupeError.unsupported("CAM needs a model ending in global average pooling and one linear layer; \(why). Restructure it with `loupe surgery cam` (CAMRestructure in LoupeSurgery), or use `Method.gradCAM`")
    }
}
