import LoupeTensor

/// Deletion and insertion (Petsiuk, Das and Saenko, "RISE", BMVC 2018), as `CausalMetric` in
/// RISE's `evaluation.py` computes them, with the order and substrates made reproducible.
///
/// For an input x [1, C, H, W] and an attribution map (`AttributionMap`, H×W), pixels are
/// taken in descending attribution, ties by raster index. Deletion starts from x and, step by
/// step, sets the next `step` pixels (all channels) to the baseline, zero in the model's input
/// space (after preprocessing, as RISE's `torch.zeros_like` of the normalised image); insertion
/// starts from RISE's blur of x (`RISEBlur`) and puts back the next `step` pixels of x. With
/// n = ⌈H·W / step⌉ steps the curve has n + 1 scores, the softmax probability of the explained
/// class (`ClassProbability`) before each step and after the last, and its area is RISE's
/// `auc`: the trapezoid rule over [0, 1], (Σ s − s₀/2 − sₙ/2) / n. A faithful map has a low
/// deletion area and a high insertion area.
public enum DeletionInsertion {
    public enum Mode: String, Sendable, CaseIterable { case deletion, insertion }

    public struct Curve: Sendable, Encodable {
        public var mode: String
        /// Pixels changed per step.
        public var step: Int
        /// The n + 1 scores, before the first step and after each.
        public var scores: [Double]
        public var auc: Double
    }

    /// RISE's normalised area under `scores`: the trapezoid rule with the steps spread over [0, 1].
    public static func auc(_ s: [Double]) -> Double {
        guard s.count > 1 else { return s.first ?? 0 }
        return (s.reduce(0, +) - s[0] / 2 - s[s.count - 1] / 2) / Double(s.count - 1)
    }

    /// The curve of `mode` for input `x` [1, C, H, W] and `map` (H×W). `substrate` is what
    /// deletion moves toward (default zeros) or insertion starts from (default `RISEBlur`).
    public static func curve(_ mode: Mode, score: ClassProbability, input x: Tensor, map: AttributionMap,
                             step: Int, substrate: Tensor? = nil) throws -> Curve {
        guard x.rank == 4, x.shape[0] == 1 else { throw LoupeError.shape("deletion and insertion need one NCHW image, got \(describe(x.shape))") }
        let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        guard map.height == h, map.width == w else {
            throw LoupeError.shape("the map is \(map.height)x\(map.width) but the input is \(h)x\(w)")
        }
        guard step >= 1 else { throw LoupeError(.invalidArgument, "the step must be at least 1 pixel, got \(step)") }
        let other = try substrate ?? (mode == .deletion ? Tensor(shape: x.shape, floats: [Float](repeating: 0, count: x.count)) : RISEBlur.apply(x))
        guard other.shape == x.shape else { throw LoupeError.shape("the substrate has shape \(describe(other.shape)), the input \(describe(x.shape))") }
        var current = mode == .deletion ? x.floats : other.floats
        let finish = mode == .deletion ? other.floats : x.floats
        let hw = h * w
        let steps = (hw + step - 1) / step
        let order = map.descendingOrder
        var scores: [Double] = []
        var pending: [[Float]] = []
        for i in 0...steps {
            pending.append(current)
            if pending.count == score.batch || i == steps {
                scores += try score(pending, shape: x.shape)
                pending.removeAll(keepingCapacity: true)
            }
            if i < steps {
                for p in order[(step * i)..<min(step * (i + 1), hw)] {
                    for k in 0..<c { current[k * hw + p] = finish[k * hw + p] }
                }
            }
        }
        return Curve(mode: mode.rawValue, step: step, scores: scores, auc: auc(scores))
    }
}
