import Foundation
import LoupeFormats
import LoupeGraph
import LoupeSurgery
import LoupeTensor

/// A model cut to give feature vectors (`FeatureGraph`), with its executor: what `loupe features`
/// runs over a set of images and `loupe neighbors` over a query image, so both compute the
/// same features for the same model, layer, pooling and preprocessing.
struct FeatureExtractor {
    let model: String
    let featureGraph: FeatureGraph.Result
    let preprocessing: Preprocessing
    let height: Int, width: Int
    /// D, the length of one feature vector.
    let dimension: Int
    let executor: Executor

    /// The model's feature graph for `layer` (a layer or tensor name; nil: the penultimate
    /// feature vector) pooled by `pool` (nil: avg for a 4-D layer).
    static func graph(model: String, config: String?, layer: String?, pool: Cut.Pooling?) throws -> FeatureGraph.Result {
        let g = try loadModel(model, config: config)
        guard g.inputs.count == 1 else {
            throw LoupeError(.invalidArgument, "features need a model with exactly one input; this one has \(g.inputs.count) (\(g.inputs.map(\.name).joined(separator: ", ")))")
        }
        let tensor = try layer.map { try g.resolveTensor($0, argument: "`layer`") }
        return try FeatureGraph.make(g, layer: tensor, pool: pool)
    }

    /// Builds the executor and finds the feature length for inputs preprocessed by `prep` to
    /// `height × width`.
    init(model: String, featureGraph fg: FeatureGraph.Result, preprocessing prep: Preprocessing, height: Int, width: Int) throws {
        self.model = model
        featureGraph = fg
        preprocessing = prep
        self.height = height
        self.width = width
        let exec = try makeExecutor(fg.graph, path: model)
        executor = exec
        let one = prep.layout == .nchw ? [1, prep.channels, height, width] : [1, height, width, prep.channels]
        guard let outType = try exec.plan(for: [fg.graph.inputs[0].name: TensorType(.float32, one)]).types[fg.graph.outputs[0].name],
              outType.shape.first == 1, outType.shape.count >= 2 else {
            throw LoupeError.invalid("\(model): the features '\(fg.layer)' have no batch dimension")
        }
        dimension = outType.shape.dropFirst().reduce(1, *)
    }

    /// The input shape for `batch` images.
    func inputShape(batch: Int) -> [Int] {
        preprocessing.layout == .nchw ? [batch, preprocessing.channels, height, width] : [batch, height, width, preprocessing.channels]
    }

    /// The features of `count` preprocessed images whose pixels are concatenated in `pixels`:
    /// `count × dimension` values, row-major.
    func run(pixels: [Float], count: Int) throws -> [Float] {
        let x = Tensor(shape: inputShape(batch: count), floats: pixels)
        let y = try executor.run([featureGraph.graph.inputs[0].name: x])[featureGraph.graph.outputs[0].name]!
        guard y.isFloat, y.shape.first == count, y.count == count * dimension else {
            throw LoupeError.shape("\(model): the features '\(featureGraph.layer)' of a batch of \(count) have shape \(describe(y.shape)), expected [\(count), \(dimension)] values")
        }
        return y.floats
    }

    /// The JSON form of the resolved preprocessing (sorted keys), a features file's `preprocess`
    /// attribute.
    static func preprocessJSON(_ p: Preprocessing, height: Int, width: Int) throws -> String {
        // Through the shortest decimal form, so 0.485 stays 0.485 in the JSON.
        func doubles(_ v: [Float]) -> [Double] { v.map { Double("\($0)")! } }
        let r = PreprocessRecord(height: height, width: width, resize: p.resizeShorterSide,
                                 crop: p.centerCrop.map { "\($0.height)x\($0.width)" }, scale: p.scale.rawValue,
                                 channel_order: p.channelOrder.rawValue, layout: p.layout.rawValue,
                                 mean: doubles(p.mean), std: doubles(p.std), grayscale: p.grayscale)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try enc.encode(r), as: UTF8.self)
    }

    /// The preprocessing and target size a `preprocess` attribute records; `file` names it in errors.
    static func preprocessing(fromJSON json: String, file: String) throws -> (Preprocessing, Int, Int) {
        let r: PreprocessRecord
        do {
            r = try JSONDecoder().decode(PreprocessRecord.self, from: Data(json.utf8))
        } catch {
            throw LoupeError.invalid("\(file): the preprocess attribute is not the JSON `loupe features` writes: \(json)")
        }
        guard let scale = Preprocessing.ValueScale(rawValue: r.scale),
              let order = Preprocessing.ChannelOrder(rawValue: r.channel_order),
              let layout = Preprocessing.Layout(rawValue: r.layout), r.height > 0, r.width > 0 else {
            throw LoupeError.invalid("\(file): the preprocess attribute has an unknown scale, channel order, layout or size: \(json)")
        }
        var crop: Preprocessing.Size?
        if let c = r.crop {
            let hw = c.split(separator: "x").compactMap { Int($0) }
            guard hw.count == 2 else { throw LoupeError.invalid("\(file): the preprocess attribute's crop '\(c)' is not HxW") }
            crop = Preprocessing.Size(height: hw[0], width: hw[1])
        }
        let p = Preprocessing(resizeShorterSide: r.resize, centerCrop: crop, scale: scale, mean: r.mean.map(Float.init),
                              std: r.std.map(Float.init), channelOrder: order, layout: layout, grayscale: r.grayscale)
        return (p, r.height, r.width)
    }

    private struct PreprocessRecord: Codable {
        var height, width: Int
        var resize: Int?
        var crop: String?
        var scale, channel_order, layout: String
        var mean, std: [Double]
        var grayscale: Bool
    }
}
