/// The textbook class-model optimiser of Simonyan, Vedaldi and Zisserman, "Deep Inside
/// Convolutional Networks: Visualising Image Classification Models and Saliency Maps", ICLR
/// workshop 2014, section 2: arg max_I S(I) − λ‖I‖₂² over the model's input I (their images
/// are zero-centred, so I = 0 is the mean image and the start), by plain gradient steps:
///
///     I ← I + η (∇S(I) − 2λ I)
///
/// No momentum, no per-pixel scaling (unlike Adam), no clipping or squashing. The paper gives
/// neither η nor λ; Loupe's defaults are `FeatureVisualization.Settings.naiveLearningRate` and
/// `naiveL2` (docs/visualize.md). In a region where S is linear the fixed point is
/// I* = ∇S / (2λ), reached geometrically with the factor 1 − 2ηλ per step.
public struct GradientAscent: Sendable {
    public var learningRate: Float
    public var l2: Float

    public init(learningRate: Float, l2: Float) {
        self.learningRate = learningRate; self.l2 = l2
    }

    /// One step on the input values `x` for the objective's gradient `g` (ascent).
    public func step(_ x: inout [Float], gradient g: [Float]) {
        for i in x.indices { x[i] += learningRate * (g[i] - 2 * l2 * x[i]) }
    }
}
