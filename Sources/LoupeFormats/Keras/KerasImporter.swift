import Foundation
import LoupeGraph
import LoupeTensor

/// Reads Keras models into Loupe's graph IR:
/// - full-model `.h5` files (Keras 2.x `model.save`, Keras 3 `model.save("x.h5")`): the
///   root attribute `model_config` (architecture JSON) and the `model_weights` group;
/// - weights-only `.h5` files plus an architecture JSON (`model.to_json()`) given as `config`;
/// - Keras 3 `.keras` archives: a ZIP holding `config.json` and `model.weights.h5`, read in
///   memory without extracting anything.
public enum KerasImporter {
    public static func load(path: String, config: String? = nil) throws -> Graph {
        let file = (path as NSString).lastPathComponent
        if (path as NSString).pathExtension.lowercased() == "keras" {
            return try loadArchive(path: path)
        }
        let h5 = try HDF5File(path: path)
        let model: [String: Any]
        let weights: KerasWeightSource
        var version = try h5.strings("/", "keras_version")?.first
        if let config {
            model = try parseJSON(try readConfig(config), what: (config as NSString).lastPathComponent)
            version = version ?? (model["keras_version"] as? String)
            if try LegacyKerasWeights(file: h5, root: "/").layerNames() != nil {
                weights = LegacyKerasWeights(file: h5, root: "/")
            } else if try LegacyKerasWeights(file: h5, root: "model_weights").layerNames() != nil {
                weights = LegacyKerasWeights(file: h5, root: "model_weights")
            } else if h5.exists("layers") || h5.exists("vars") {
                weights = KerasV3Weights(file: h5)
            } else {
                throw LoupeError.invalid("\(file): no Keras weights found (neither a layer_names attribute nor a 'layers' group)")
            }
        } else {
            guard let text = try LegacyKerasWeights.chunked(h5, "/", "model_config")?.joined() else {
                throw LoupeError(.invalidArgument, "\(file): this .h5 file holds weights only (it has no 'model_config' attribute with the architecture); pass the architecture JSON written by model.to_json() as `config`")
            }
            model = try parseJSON(Data(text.utf8), what: "\(file) (model_config)")
            weights = LegacyKerasWeights(file: h5, root: "model_weights")
            if version == nil { version = try h5.strings("model_weights", "keras_version")?.first }
        }
        let builder = KerasGraphBuilder(file: file, weights: weights, keras2: version?.hasPrefix("2.") ?? false)
        try builder.build(model: model)
        return builder.graph
    }

    static func loadArchive(path: String) throws -> Graph {
        let file = (path as NSString).lastPathComponent
        let data = try InputFile.read(path, as: "model", mapped: true)
        let zip = try ZipArchive(data: data, name: file)
        guard let config = try zip.read("config.json") else {
            throw LoupeError.invalid("\(file): not a Keras archive (no config.json entry)")
        }
        guard let weightsData = try zip.read("model.weights.h5") else {
            throw LoupeError.invalid("\(file): not a Keras archive (no model.weights.h5 entry)")
        }
        let model = try parseJSON(config, what: "\(file)/config.json")
        let h5 = try HDF5File(image: weightsData, name: "\(file)/model.weights.h5")
        let builder = KerasGraphBuilder(file: file, weights: KerasV3Weights(file: h5), keras2: false)
        try builder.build(model: model)
        return builder.graph
    }

    private static func readConfig(_ path: String) throws -> Data {
        try InputFile.read(path, as: "Keras config", maxBytes: InputFile.maxTextBytes)
    }

    private static func parseJSON(_ data: Data, what: String) throws -> [String: Any] {
        guard let obj = try? JSONSerialization.jsonObject(with: data), let d = obj as? [String: Any] else {
            throw LoupeError.invalid("\(what): not a valid Keras model config (JSON object expected)")
        }
        return d
    }
}
