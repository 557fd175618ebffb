import LoupeTensor

/// Every faithfulness metric of one map on one image: deletion and insertion
/// (`DeletionInsertion`), ROAD (`ROAD`), the confidence change (`ConfidenceChange`) and, with
/// a box, the pointing game (`PointingGame`). Works for any `Method` whose map is an
/// attribution (`AttributionMap`): a new method needs no change here. See docs/evaluate.md.
public enum Evaluation {
    public struct Settings: Sendable {
        /// Pixels per deletion/insertion step (RISE: 224, for 224×224 inputs).
        public var step = 224
        /// Images per forward pass.
        public var batch = 16
        public var road = ROAD.Settings()
        /// Pointing game tolerance in pixels.
        public var tolerance = 0.0
        /// Which metrics to compute.
        public var metrics = Set(Metric.allCases)
        public init() {}
    }

    public enum Metric: String, Sendable, CaseIterable {
        case deletion, insertion, road, confidence, pointing
    }

    public struct Result: Sendable, Encodable {
        public var deletion: DeletionInsertion.Curve?
        public var insertion: DeletionInsertion.Curve?
        public var road: ROAD.Result?
        public var confidence: ConfidenceChange.Result?
        public var pointing: PointingGame.Result?
    }

    /// The metrics of `map` for input `x` [1, C, H, W] and class `target`.
    public static func evaluate(_ model: ExplainableModel, input x: Tensor, map: AttributionMap, target: Int,
                                box: PointingGame.Box? = nil, settings: Settings = Settings()) throws -> Result {
        let score = ClassProbability(model: model, target: target, batch: settings.batch)
        var r = Result()
        let m = settings.metrics
        if m.contains(.deletion) { r.deletion = try DeletionInsertion.curve(.deletion, score: score, input: x, map: map, step: settings.step) }
        if m.contains(.insertion) { r.insertion = try DeletionInsertion.curve(.insertion, score: score, input: x, map: map, step: settings.step) }
        if m.contains(.road) { r.road = try ROAD.evaluate(score: score, input: x, map: map, settings: settings.road) }
        if m.contains(.confidence) { r.confidence = try ConfidenceChange.evaluate(score: score, input: x, map: map) }
        if m.contains(.pointing), let box { r.pointing = PointingGame.play(map, box: box, tolerance: settings.tolerance) }
        return r
    }
}
