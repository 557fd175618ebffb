import LoupeGraph
import LoupeTensor

/// The explanation methods, named as on the command line, and the one entry point that runs
/// any of them: `method.run(on: model, input: x, options: options)`.
///
/// Everything the commands and the report know about a method is here (name, title, one-line
/// summary, whether it reads a layer, what its map holds). Adding a technique is its own file
/// plus one case here; the compiler lists the switches of this file to complete.
public enum Method: String, Sendable, CaseIterable {
    case saliency
    case deconvnet
    case guidedBackprop = "guided-backprop"
    case cam
    case gradCAM = "grad-cam"
    case guidedGradCAM = "guided-grad-cam"
    case occlusion
    case activations
    case integratedGradients = "integrated-gradients"
    case gradientXInput = "gradient-x-input"

    // The CAM variants (pytorch-grad-cam's definitions; docs/explanations.md).
    case gradCAMPlusPlus = "grad-cam++"
    case xGradCAM = "xgrad-cam"
    case hiResCAM = "hires-cam"
    case layerCAM = "layer-cam"
    case scoreCAM = "score-cam"
    case ablationCAM = "ablation-cam"
    case eigenCAM = "eigen-cam"

    /// The name people read, as in headings: "Grad-CAM".
    public var title: String {
        switch self {
        case .saliency: "Saliency"
        case .deconvnet: "Deconvnet"
        case .guidedBackprop: "Guided backprop"
        case .cam: "CAM"
        case .gradCAM: "Grad-CAM"
        case .guidedGradCAM: "Guided Grad-CAM"
        case .occlusion: "Occlusion"
        case .activations: "Activation map"
        case .integratedGradients: "Integrated gradients"
        case .gradientXInput: "Gradient × input"
        case .gradCAMPlusPlus: "Grad-CAM++"
        case .xGradCAM: "XGrad-CAM"
        case .hiResCAM: "HiResCAM"
        case .layerCAM: "LayerCAM"
        case .scoreCAM: "Score-CAM"
        case .ablationCAM: "Ablation-CAM"
        case .eigenCAM: "EigenCAM"
        }
    }

    /// One line for legends, reports and help.
    public var summary: String {
        switch self {
        case .saliency: "Absolute input gradient of the class score (Simonyan et al. 2014), maximum over channels."
        case .deconvnet: "Input gradient with the deconvnet ReLU rule: only positive gradients pass (Zeiler & Fergus 2014)."
        case .guidedBackprop: "Input gradient passing only positive gradients through active ReLUs (Springenberg et al. 2015)."
        case .cam: "Class activation map: last conv features weighted by the final linear layer (Zhou et al. 2016)."
        case .gradCAM: "Layer features weighted by their spatially averaged gradients, then ReLU (Selvaraju et al. 2017)."
        case .guidedGradCAM: "Guided backpropagation times the upsampled Grad-CAM map (Selvaraju et al. 2017)."
        case .occlusion: "Drop of the class score when a sliding window is replaced by a baseline (Zeiler & Fergus 2014)."
        case .activations: "A layer's feature maps, thresholded at a quantile of each channel's values."
        case .integratedGradients: "Input minus baseline times the class score's gradient averaged along the path between them (Sundararajan et al. 2017)."
        case .gradientXInput: "Input gradient of the class score times the input (Shrikumar et al. 2016)."
        case .gradCAMPlusPlus: "Layer features weighted by positive gradients with per-position coefficients, then ReLU (Chattopadhay et al. 2018)."
        case .xGradCAM: "Layer features weighted by their activation-weighted, normalised gradients, then ReLU (Fu et al. 2020)."
        case .hiResCAM: "Layer features times their gradients element by element, summed over channels, then ReLU (Draelos & Carin 2020)."
        case .layerCAM: "Layer features times their positive gradients element by element, summed, then ReLU; suits early layers (Jiang et al. 2021)."
        case .scoreCAM: "Layer features weighted by the softmax of the scores of the image masked by each feature map (Wang et al. 2020)."
        case .ablationCAM: "Layer features weighted by the relative score drop when each one is ablated (Desai & Ramaswamy 2020)."
        case .eigenCAM: "The first principal component of a layer's features, then ReLU; class-agnostic (Muhammad & Yeasin 2020)."
        }
    }

    /// What the map holds; it decides how the map is drawn (`ExplanationPicture`).
    public var mapKind: MapKind {
        switch self {
        case .saliency: .inputMagnitude
        case .deconvnet, .guidedBackprop, .guidedGradCAM: .inputGradient
        case .cam, .gradCAM: .classMap
        case .occlusion: .scoreDrop
        case .activations: .featureMaps
        case .integratedGradients, .gradientXInput: .inputGradient
        case .gradCAMPlusPlus, .xGradCAM, .hiResCAM, .layerCAM, .scoreCAM, .ablationCAM, .eigenCAM: .classMap
        }
    }

    /// Whether the method takes gradients (a backward pass through the gradient plan); the
    /// others only run the model forward.
    public var backpropagates: Bool {
        switch self {
        case .saliency, .deconvnet, .guidedBackprop, .gradCAM, .guidedGradCAM, .integratedGradients, .gradientXInput: true
        case .gradCAMPlusPlus, .xGradCAM, .hiResCAM, .layerCAM: true
        case .cam, .occlusion, .activations, .scoreCAM, .ablationCAM, .eigenCAM: false
        }
    }

    /// Whether the method reads `Options.layer`.
    public var takesLayer: Bool {
        switch self {
        case .gradCAM, .guidedGradCAM, .activations: true
        case .gradCAMPlusPlus, .xGradCAM, .hiResCAM, .layerCAM, .scoreCAM, .ablationCAM, .eigenCAM: true
        case .saliency, .deconvnet, .guidedBackprop, .cam, .occlusion: false
        case .integratedGradients, .gradientXInput: false
        }
    }

    /// Whether `Options.noiseTunnel` smooths the method (`NoiseTunnel`): the input-gradient
    /// methods, whose map has the input's shape.
    public var takesNoiseTunnel: Bool {
        switch self {
        case .saliency, .deconvnet, .guidedBackprop, .integratedGradients, .gradientXInput: true
        case .cam, .gradCAM, .guidedGradCAM, .occlusion, .activations: false
        case .gradCAMPlusPlus, .xGradCAM, .hiResCAM, .layerCAM, .scoreCAM, .ablationCAM, .eigenCAM: false
        }
    }

    /// Everything a method may read besides the model and the input; each method ignores what
    /// it does not use.
    public struct Options: Sendable {
        /// The class to explain; nil: the model's top class for the input.
        public var target: Int?
        /// What the gradient methods and occlusion score: the logit or the softmax probability.
        public var score: ExplainableModel.ScoreKind
        /// For `takesLayer` methods: a node or tensor name (`ExplainableModel.resolveLayer`);
        /// nil: the last layer with a spatial output.
        public var layer: String?
        public var occlusion: Occlusion.Settings
        public var integratedGradients = IntegratedGradients.Settings()
        /// Smooths the methods that `takesNoiseTunnel`; nil: no smoothing.
        public var noiseTunnel: NoiseTunnel.Settings?
        /// Called with (done, total) by the methods that make many passes: integrated
        /// gradients (path points) and noise tunnels (samples).
        public var progress: (@Sendable (Int, Int) -> Void)?

        /// Score-CAM's batch and channel limit; Ablation-CAM's batch.
        public var scoreCAM = ScoreCAM.Settings()
        public var ablationCAM = AblationCAM.Settings()

        public init(target: Int? = nil, score: ExplainableModel.ScoreKind = .logit, layer: String? = nil,
                    occlusion: Occlusion.Settings = Occlusion.Settings()) {
            self.target = target
            self.score = score
            self.layer = layer
            self.occlusion = occlusion
        }

        var request: GradientRequest { GradientRequest(target: target, score: score) }
    }

    /// Runs the method on one NCHW image `x` [1, C, H, W] (the layout of `model.graph`'s
    /// input; channels-last models are given an NCHW input when the `ExplainableModel` is
    /// made). The map's shape is given by `mapKind`; CAM throws for a model without a
    /// global-average-pooling and linear tail.
    public func run(on model: ExplainableModel, input x: Tensor, options: Options = Options()) throws -> Explanation {
        let r = options.request
        if let nt = options.noiseTunnel, takesNoiseTunnel {
            return try NoiseTunnel.explain(self, model, x, options: options, settings: nt)
        }
        switch self {
        case .saliency: return try Saliency.explain(model, x, r)
        case .deconvnet: return try Deconvnet.explain(model, x, r)
        case .guidedBackprop: return try GuidedBackprop.explain(model, x, r)
        case .cam: return try CAM.explain(model, x, r)
        case .gradCAM: return try GradCAM.explain(model, x, r, layer: options.layer)
        case .guidedGradCAM: return try GuidedGradCAM.explain(model, x, r, layer: options.layer)
        case .occlusion: return try Occlusion.explain(model, x, r, settings: options.occlusion)
        case .activations: return try ActivationMaps.explain(model, x, layer: options.layer)
        case .integratedGradients: return try IntegratedGradients.explain(model, x, r, settings: options.integratedGradients, progress: options.progress)
        case .gradientXInput: return try GradientXInput.explain(model, x, r)
        case .gradCAMPlusPlus: return try GradCAMPlusPlus.explain(model, x, r, layer: options.layer)
        case .xGradCAM: return try XGradCAM.explain(model, x, r, layer: options.layer)
        case .hiResCAM: return try HiResCAM.explain(model, x, r, layer: options.layer)
        case .layerCAM: return try LayerCAM.explain(model, x, r, layer: options.layer)
        case .scoreCAM: return try ScoreCAM.explain(model, x, r, layer: options.layer, settings: options.scoreCAM)
        case .ablationCAM: return try AblationCAM.explain(model, x, r, layer: options.layer, settings: options.ablationCAM)
        case .eigenCAM: return try EigenCAM.explain(model, x, r, layer: options.layer)
        }
    }
}

/// What an explanation map holds, for an input [1, C, H, W] and a layer output [1, K, h, w].
/// Pictures are drawn per kind, so a new method whose map is of a known kind needs no
/// drawing code.
public enum MapKind: Sendable, CaseIterable {
    /// |∂s/∂x|: C×H×W, non-negative.
    case inputMagnitude
    /// A signed input gradient: C×H×W.
    case inputGradient
    /// A class map at a layer's resolution after a ReLU: h×w, non-negative.
    case classMap
    /// The score's drop when a region is hidden: H×W, signed.
    case scoreDrop
    /// A layer's raw feature maps: K×h×w.
    case featureMaps

    /// The shape and meaning, as help text says it (what `--save-npy` writes).
    public var description: String {
        switch self {
        case .inputMagnitude: "C×H×W, absolute values"
        case .inputGradient: "C×H×W, signed"
        case .classMap: "h×w at the layer's resolution, after the ReLU"
        case .scoreDrop: "H×W, signed"
        case .featureMaps: "C×h×w, the layer's raw values"
        }
    }
}
