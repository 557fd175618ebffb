import LoupeTensor

/// Everything `loupe report` shows, as plain values: the CLI fills it in, `ReportHTML`
/// turns it into one self-contained page. Pictures are RGB images here; they become PNG
/// `data:` URIs only when the page is written.
public struct ReportDocument {
    public struct Value {
        public var name: String
        /// As `loupe inspect` prints it, e.g. `float32[1, 3, 224, 224]`.
        public var type: String
        public init(name: String, type: String) {
            self.name = name
            self.type = type
        }
    }

    /// One row of the layer table.
    public struct Layer {
        public var name: String
        public var op: String
        public var shape: String
        public var parameters: Int
        public var macs: Int
        public init(name: String, op: String, shape: String, parameters: Int, macs: Int) {
            self.name = name
            self.op = op
            self.shape = shape
            self.parameters = parameters
            self.macs = macs
        }
    }

    public struct Model {
        public var path: String
        public var sha256: String
        public var bytes: Int
        public var producer: String
        public var opset: Int
        public var inputs: [Value] = []
        public var outputs: [Value] = []
        public var parameters = 0
        public var macs = 0
        public var layers: [Layer] = []
        public var foldedNodes = 0
        public init(path: String, sha256: String, bytes: Int, producer: String, opset: Int) {
            self.path = path
            self.sha256 = sha256
            self.bytes = bytes
            self.producer = producer
            self.opset = opset
        }
    }

    /// A picture with a title and an optional caption.
    public struct Figure {
        public var title: String
        public var image: RGBImage
        public var caption: String
        public init(title: String, image: RGBImage, caption: String = "") {
            self.title = title
            self.image = image
            self.caption = caption
        }
    }

    /// A colour bar drawn in CSS (a gradient sampled from the colormap) with labels spread
    /// evenly under it, and a sentence saying what the colours mean.
    public struct Legend {
        public var colormap: Colormap
        public var labels: [String]
        public var text: String
        public init(_ colormap: Colormap, labels: [String], text: String) {
            self.colormap = colormap
            self.labels = labels
            self.text = text
        }
    }

    public struct Prediction {
        public var index: Int
        public var label: String?
        public var probability: Double
        public var logit: Double
        public init(index: Int, label: String?, probability: Double, logit: Double) {
            self.index = index
            self.label = label
            self.probability = probability
            self.logit = logit
        }
    }

    /// The model-randomisation check of one method on one image (Adebayo et al., "Sanity
    /// Checks for Saliency Maps", 2018): the Spearman rank correlation of the absolute maps
    /// (channels summed) before and after every Conv, Gemm and MatMul layer is re-drawn.
    public struct SanityResult {
        /// nil: undefined (a constant map) or not computed (`note` says why).
        public var spearmanAbs: Double?
        /// Above it the method fails.
        public var threshold: Double
        public var seed: UInt64
        public var note: String?
        public var fails: Bool { spearmanAbs.map { $0 > threshold } ?? false }
        public init(spearmanAbs: Double?, threshold: Double, seed: UInt64, note: String? = nil) {
            self.spearmanAbs = spearmanAbs
            self.threshold = threshold
            self.seed = seed
            self.note = note
        }
    }

    /// One method on one image: a picture, or a note saying why there is none.
    public struct MethodResult {
        public var title: String
        public var summary: String
        public var picture: RGBImage?
        public var note: String?
        public var detail: String
        public var legend: Legend?
        public var seconds: Double
        /// nil: not checked (`--no-sanity`, or no picture).
        public var sanity: SanityResult?
        public init(title: String, summary: String, picture: RGBImage?, note: String? = nil, detail: String = "",
                    legend: Legend? = nil, seconds: Double = 0) {
            self.title = title
            self.summary = summary
            self.picture = picture
            self.note = note
            self.detail = detail
            self.legend = legend
            self.seconds = seconds
        }
    }

    public struct ImageSection {
        public var path: String
        /// The model's input after preprocessing, as shown under the heat maps.
        public var input: RGBImage
        public var predictions: [Prediction]
        public var target: Int
        public var targetLabel: String?
        public var methods: [MethodResult] = []
        /// Larger pictures under the method grid (e.g. every channel of the activation layer).
        public var extras: [Figure] = []
        public init(path: String, input: RGBImage, predictions: [Prediction], target: Int, targetLabel: String?) {
            self.path = path
            self.input = input
            self.predictions = predictions
            self.target = target
            self.targetLabel = targetLabel
        }
    }

    public var title: String
    public var model: Model
    /// The first convolution's filters, or nil with `filtersNote` saying why.
    public var filters: Figure?
    public var filtersNote: String?
    public var images: [ImageSection] = []
    /// Settings as (name, value) rows, in order.
    public var settings: [(String, String)] = []
    public var generator: String

    public init(title: String, model: Model, generator: String) {
        self.title = title
        self.model = model
        self.generator = generator
    }
}
