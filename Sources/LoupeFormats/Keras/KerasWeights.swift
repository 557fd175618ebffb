import Foundation
import LoupeTensor

/// Where a layer sits: the chain of layers from the top-level model down to it. `saveName`
/// is the name Keras 3 gives the layer inside a `.keras` weights file (the snake-cased
/// class name made unique within its container: `conv2d`, `conv2d_1`, ...).
struct KerasLayerPath {
    var parts: [(layerName: String, saveName: String)]

    var description: String { parts.map(\.layerName).joined(separator: "/") }
}

/// The weights of a model file, looked up per layer in the order Keras keeps them
/// (`kernel`, `bias`; `gamma`, `beta`, `moving_mean`, `moving_variance`; ...).
protocol KerasWeightSource {
    /// The tensors named `names` (in that order) of the layer at `path`.
    func weights(_ path: KerasLayerPath, _ names: [String], className: String) throws -> [Tensor]
}

/// The Keras 2 layout (also written by Keras 3 `model.save("x.h5")` and Keras 2
/// `save_weights("x.h5")`): a group per top-level layer under `root`, whose attribute
/// `weight_names` lists its weights (nested models' weights included) as paths relative
/// to the group. Long lists are split into `weight_names0`, `weight_names1`, ...
struct LegacyKerasWeights: KerasWeightSource {
    let file: HDF5File
    /// `model_weights` for full-model files, `/` for weights-only files.
    let root: String

    /// The `layer_names` of the root group, or nil when the file has another layout.
    func layerNames() throws -> [String]? { try Self.chunked(file, root, "layer_names") }

    /// Reads attribute `name`, or its chunks `name0`, `name1`, ... (Keras splits attributes
    /// over 64 KiB this way).
    static func chunked(_ file: HDF5File, _ path: String, _ name: String) throws -> [String]? {
        if let v = try file.strings(path, name) { return v }
        var all: [String]?
        var i = 0
        while let part = try file.strings(path, "\(name)\(i)") {
            all = (all ?? []) + part
            i += 1
        }
        return all
    }

    func weights(_ path: KerasLayerPath, _ names: [String], className: String) throws -> [Tensor] {
        if names.isEmpty { return [] }
        let top = path.parts[0].layerName
        let leaf = path.parts.last!.layerName
        let group = root == "/" ? top : "\(root)/\(top)"
        guard let listed = try Self.chunked(file, group, "weight_names") else {
            throw LoupeError.invalid("\(file.name): no weights for layer '\(path.description)' (\(className)); the file has no group '\(group)' with a weight_names attribute")
        }
        func parts(_ s: String) -> [String] {
            s.split(separator: "/").map { String($0.hasSuffix(":0") ? $0.dropLast(2) : $0) }
        }
        var candidates = listed.filter { let p = parts($0); return p.count >= 2 && p[p.count - 2] == leaf }
        if candidates.isEmpty && path.parts.count == 1 { candidates = listed }
        // Names differ between versions (Keras 3 calls DepthwiseConv2D's kernel `kernel`):
        // when the names do not all match but the count does, Keras's order decides.
        if !names.allSatisfy({ want in candidates.contains { parts($0).last == want } }) && candidates.count == names.count {
            return try candidates.map { try file.tensor("\(group)/\($0)") }
        }
        return try names.map { want in
            guard let w = candidates.first(where: { parts($0).last == want }) else {
                throw LoupeError.invalid("\(file.name): layer '\(path.description)' (\(className)) has no weight '\(want)' (the file lists: \(listed.joined(separator: ", ")))")
            }
            return try file.tensor("\(group)/\(w)")
        }
    }
}

/// The Keras 3 layout of `model.weights.h5` (inside `.keras` archives, and `.weights.h5`
/// files): `layers/<saveName>/vars/0, 1, ...`, nested models adding `layers/<saveName>`
/// levels.
struct KerasV3Weights: KerasWeightSource {
    let file: HDF5File

    func weights(_ path: KerasLayerPath, _ names: [String], className: String) throws -> [Tensor] {
        if names.isEmpty { return [] }
        let group = path.parts.map { "layers/\($0.saveName)" }.joined(separator: "/") + "/vars"
        var found: [Tensor] = []
        while file.exists("\(group)/\(found.count)") {
            found.append(try file.tensor("\(group)/\(found.count)"))
        }
        guard found.count >= names.count else {
            throw LoupeError.invalid("\(file.name): layer '\(path.description)' (\(className)) should have \(names.count) weights (\(names.joined(separator: ", "))) at '\(group)', found \(found.count)")
        }
        return Array(found.prefix(names.count))
    }
}
