import Foundation

/// Everything an atlas page shows, as plain data: `AtlasPage.render` turns it into HTML.
/// The command (`loupe atlas`) fills it from the model's features and predictions, the 2-D
/// map, the nearest neighbours and the top patches; tests can fill it by hand.
///
/// Indices (`Item.neighbors`) are 0-based positions in `items`.
public struct AtlasContent: Sendable {
    public struct Item: Sendable {
        /// The image path as it was reached from the arguments.
        public var path: String
        /// A small PNG of the image (about 48–64 px on its longer side keeps the page light).
        public var thumbnailPNG: Data
        /// The true class name, nil when unknown.
        public var label: String?
        /// The model's top class name and its softmax probability (nil when not predicted).
        public var predicted: String?
        public var probability: Double?
        /// The position on the 2-D map (any scale: the page scales each axis to fit).
        public var x: Float
        public var y: Float
        /// The nearest neighbours in feature space, nearest first, with their distances.
        public var neighbors: [Int]
        public var distances: [Double]

        public init(path: String, thumbnailPNG: Data, label: String?, predicted: String?, probability: Double?,
                    x: Float, y: Float, neighbors: [Int], distances: [Double]) {
            self.path = path
            self.thumbnailPNG = thumbnailPNG
            self.label = label
            self.predicted = predicted
            self.probability = probability
            self.x = x
            self.y = y
            self.neighbors = neighbors
            self.distances = distances
        }
    }

    /// Leave-one-out k-NN classification accuracy of one class (or of all, `name` "all").
    public struct ClassAccuracy: Sendable {
        public var name: String
        public var correct: Int
        public var total: Int
        public init(name: String, correct: Int, total: Int) {
            self.name = name
            self.correct = correct
            self.total = total
        }
    }

    /// One layer's top-patches picture.
    public struct LayerPatches: Sendable {
        public var layer: String
        public var png: Data
        public var caption: String
        public init(layer: String, png: Data, caption: String) {
            self.layer = layer
            self.png = png
            self.caption = caption
        }
    }

    public var title: String
    /// One line under the title (model file, counts, generator).
    public var subtitle: String
    /// How the map was made, e.g. "t-SNE of the 64-D features (perplexity 30), KL 0.61".
    public var mapDescription: String
    /// How neighbours are measured, e.g. "Euclidean distance of the features".
    public var distanceDescription: String
    public var items: [Item]
    /// The class names of the labels, in legend order (colours follow this order).
    public var classNames: [String]
    /// The k of the k-NN accuracy.
    public var k: Int
    /// Per class, then the overall figure (nil when no image has a label).
    public var accuracy: [ClassAccuracy]
    public var overall: ClassAccuracy?
    public var patches: [LayerPatches]
    /// A note shown instead of the patches when there are none (why not).
    public var patchesNote: String?
    /// Settings listed at the end, as (name, value).
    public var settings: [(String, String)]
    public var generator: String

    public init(title: String, subtitle: String = "", mapDescription: String, distanceDescription: String,
                items: [Item], classNames: [String], k: Int, accuracy: [ClassAccuracy] = [], overall: ClassAccuracy? = nil,
                patches: [LayerPatches] = [], patchesNote: String? = nil, settings: [(String, String)] = [], generator: String) {
        self.title = title
        self.subtitle = subtitle
        self.mapDescription = mapDescription
        self.distanceDescription = distanceDescription
        self.items = items
        self.classNames = classNames
        self.k = k
        self.accuracy = accuracy
        self.overall = overall
        self.patches = patches
        self.patchesNote = patchesNote
        self.settings = settings
        self.generator = generator
    }
}
