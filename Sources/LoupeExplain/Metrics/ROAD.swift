import LoupeTensor

/// ROAD, RemOve And Debias (Rong, Leemann, Borisov, Kasneci and Kasneci, ICML 2022), as
/// pytorch-grad-cam's `metrics/road.py` and `metrics/perturbation_confidence.py` compute it.
///
/// The map is first scaled to [0, 1] (`AttributionMap.scaled`, pytorch-grad-cam's
/// `scale_cam_image`). For each percentile p (default 10, 20, …, 90):
/// - most relevant first (MoRF): t = the p-th percentile of the scaled map m (numpy's
///   `percentile`, linear interpolation, in float32); pixels with m ≥ t (the top 100 − p %)
///   are removed and imputed (`NoisyLinearImputer`), the rest kept (`RemoveMostRelevantFirst`);
/// - least relevant first (LeRF): the same on 1 − m, removing the bottom 100 − p %.
/// Each gives the score change p_c(imputed) − p_c(x) (`PerturbationConfidenceMetric` with
/// `return_diff`), and the metric is its mean over the percentiles
/// (`ROADMostRelevantFirstAverage`, `ROADLeastRelevantFirstAverage`); `combined` is
/// (LeRF − MoRF) / 2 (`ROADCombined`). A faithful map drops the score fast under MoRF (very
/// negative) and slowly under LeRF (near 0), so a higher `combined` is better.
public enum ROAD {
    public struct Settings: Sendable {
        public var percentiles: [Double] = [10, 20, 30, 40, 50, 60, 70, 80, 90]
        /// The imputation noise's standard deviation (road.py: 0.01).
        public var noise = 0.01
        /// Seed of the noise generator (SplitMix64); MoRF draws first, then LeRF, each by percentile.
        public var seed: UInt64 = 0
        public init() {}
    }

    public struct Result: Sendable, Encodable {
        public var percentiles: [Double]
        /// p_c(imputed) − p_c(x) per percentile.
        public var mostRelevantFirst: [Double]
        public var leastRelevantFirst: [Double]
        public var morf: Double
        public var lerf: Double
        public var combined: Double { (lerf - morf) / 2 }

        enum CodingKeys: String, CodingKey { case percentiles, morfCurve = "morf_curve", lerfCurve = "lerf_curve", morf, lerf, combined }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(percentiles, forKey: .percentiles)
            try c.encode(mostRelevantFirst, forKey: .morfCurve)
            try c.encode(leastRelevantFirst, forKey: .lerfCurve)
            try c.encode(morf, forKey: .morf)
            try c.encode(lerf, forKey: .lerf)
            try c.encode(combined, forKey: .combined)
        }
    }

    /// numpy's `percentile(a, p)` (method "linear") of float32 values, as numpy computes it:
    /// virtual index (n − 1)·p/100 in float64, then `_lerp` in float32.
    public static func percentile(_ sorted: [Float], _ p: Double) -> Float {
        let n = sorted.count
        let v = Double(n - 1) * (p / 100)
        let lo = min(max(Int(v.rounded(.down)), 0), n - 1)
        let hi = min(lo + 1, n - 1)
        let gamma = v - Double(lo)
        let (a, b) = (sorted[lo], sorted[hi])
        let d = b - a
        return gamma >= 0.5 ? b - d * Float(1 - gamma) : a + d * Float(gamma)
    }

    /// The pixels kept (true) when removing by `m` at percentile p: those with m < t.
    public static func keep(_ m: [Float], percentile p: Double) -> [Bool] {
        let t = percentile(m.sorted(), p)
        return m.map { $0 < t }
    }

    public static func evaluate(score: ClassProbability, input x: Tensor, map: AttributionMap,
                                settings: Settings = Settings()) throws -> Result {
        guard x.rank == 4, x.shape[0] == 1 else { throw LoupeError.shape("ROAD needs one NCHW image, got \(describe(x.shape))") }
        let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        guard map.height == h, map.width == w else { throw LoupeError.shape("the map is \(map.height)x\(map.width) but the input is \(h)x\(w)") }
        let original = try score(x)
        let m = map.scaled
        let inverted = m.map { 1 - $0 }
        var rng = SplitMix64(seed: settings.seed)
        var images: [[Float]] = []
        for source in [m, inverted] {
            for p in settings.percentiles {
                images.append(NoisyLinearImputer.impute(x.floats, channels: c, height: h, width: w,
                                                        keep: keep(source, percentile: p), noise: settings.noise, rng: &rng))
            }
        }
        let s = try score(images, shape: x.shape).map { $0 - original }
        let k = settings.percentiles.count
        let morf = Array(s[0..<k]), lerf = Array(s[k...])
        func mean(_ v: [Double]) -> Double { v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count) }
        return Result(percentiles: settings.percentiles, mostRelevantFirst: morf, leastRelevantFirst: lerf, morf: mean(morf), lerf: mean(lerf))
    }
}
