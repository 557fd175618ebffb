import LoupeTensor

/// Average drop and increase in confidence (Chattopadhay, Sarkar, Howlader and Balasubramanian,
/// "Grad-CAM++", WACV 2018, section 5.1), as pytorch-grad-cam's `metrics/cam_mult_image.py`
/// computes them.
///
/// The input x [1, C, H, W] (in the model's input space) is multiplied by the map scaled to
/// [0, 1] (`AttributionMap.scaled`, the same for every channel), and Y = p_c(x), O = p_c(x·m)
/// are the softmax probabilities of the explained class. Per image:
/// - `drop` = max(0, Y − O), pytorch-grad-cam's `DropInConfidence`;
/// - `relativeDrop` = max(0, Y − O) / Y, the paper's term, whose mean × 100 is "Average Drop %";
/// - `increase` = 1 if O > Y else 0, pytorch-grad-cam's `IncreaseInConfidence`, whose mean × 100
///   is the paper's "% Increase in Confidence".
public enum ConfidenceChange {
    public struct Result: Sendable, Encodable {
        public var original: Double
        public var masked: Double
        public var drop: Double { max(0, original - masked) }
        public var relativeDrop: Double { original > 0 ? drop / original : 0 }
        public var increase: Double { masked > original ? 1 : 0 }

        enum CodingKeys: String, CodingKey { case original, masked, drop, relativeDrop = "relative_drop", increase }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(original, forKey: .original)
            try c.encode(masked, forKey: .masked)
            try c.encode(drop, forKey: .drop)
            try c.encode(relativeDrop, forKey: .relativeDrop)
            try c.encode(increase, forKey: .increase)
        }
    }

    public static func evaluate(score: ClassProbability, input x: Tensor, map: AttributionMap) throws -> Result {
        guard x.rank == 4, x.shape[0] == 1 else { throw LoupeError.shape("the confidence change needs one NCHW image, got \(describe(x.shape))") }
        let (c, hw) = (x.shape[1], x.shape[2] * x.shape[3])
        guard map.height * map.width == hw else { throw LoupeError.shape("the map is \(map.height)x\(map.width) but the input is \(x.shape[2])x\(x.shape[3])") }
        let m = map.scaled
        var masked = x.floats
        for k in 0..<c { for p in 0..<hw { masked[k * hw + p] *= m[p] } }
        let s = try score([x.floats, masked], shape: x.shape)
        return Result(original: s[0], masked: s[1])
    }
}
