import Foundation
import LoupeGraph
import LoupeTensor

/// Walks a model config (`Sequential`, `Functional`/`Model`, nested in any depth) and
/// calls the layer converters in dependency order. Nested models are flattened into the
/// one graph; their layers keep their own names.
extension KerasGraphBuilder {
    static let modelClasses: Set<String> = ["Sequential", "Functional", "Model"]

    /// Builds the whole graph from the top-level `{"class_name": ..., "config": ...}`.
    func build(model: [String: Any]) throws {
        guard let cls = model["class_name"] as? String, let cfg = model["config"] as? [String: Any] ?? wrapLayers(model["config"]) else {
            throw LoupeError.invalid("\(file): the model config has no class_name/config")
        }
        guard Self.modelClasses.contains(cls) else {
            throw LoupeError.unsupported("\(file): the top-level object is a '\(cls)', not a Sequential or functional Model")
        }
        graph.name = (cfg["name"] as? String) ?? ""
        let outs = try buildModel(cls, cfg, inputs: nil, path: [], suffix: "")
        for o in outs {
            let k = kerasOrder(o)
            graph.outputs.append(ValueInfo(name: k.name, dtype: .float32, dims: nil))
        }
    }

    /// Old Keras 2 Sequential configs are a bare list of layers.
    private func wrapLayers(_ v: Any?) -> [String: Any]? {
        (v as? [Any]).map { ["layers": $0] }
    }

    func buildModel(_ cls: String, _ cfg: [String: Any], inputs: [KerasValue]?, path: [(String, String)], suffix: String) throws -> [KerasValue] {
        if cls == "Sequential" {
            return try buildSequential(cfg, inputs: inputs, path: path, suffix: suffix)
        }
        return try buildFunctional(cfg, inputs: inputs, path: path, suffix: suffix)
    }

    private func layerParts(_ layer: Any, in model: String) throws -> (cls: String, name: String, config: [String: Any], raw: [String: Any]) {
        guard let l = layer as? [String: Any], let cls = l["class_name"] as? String else {
            throw LoupeError.invalid("\(file): a layer of model '\(model)' has no class_name")
        }
        let cfg = (l["config"] as? [String: Any]) ?? [:]
        let name = (cfg["name"] as? String) ?? (l["name"] as? String) ?? cls.lowercased()
        return (cls, name, cfg, l)
    }

    private func buildSequential(_ cfg: [String: Any], inputs: [KerasValue]?, path: [(String, String)], suffix: String) throws -> [KerasValue] {
        let modelName = (cfg["name"] as? String) ?? "sequential"
        guard let layers = cfg["layers"] as? [Any] else { throw LoupeError.invalid("\(file): Sequential model '\(modelName)' has no layers list") }
        let parts = try layers.map { try layerParts($0, in: modelName) }
        var x: KerasValue
        if let inputs {
            guard inputs.count == 1 else { throw LoupeError.invalid("\(file): Sequential model '\(modelName)' called with \(inputs.count) inputs") }
            x = inputs[0]
        } else if let first = parts.first(where: { $0.cls == "InputLayer" }) {
            x = try makeInput(first.name, shape: first.config["batch_shape"] ?? first.config["batch_input_shape"], layer: first.name)
        } else if let first = parts.first, let shape = first.config["batch_input_shape"] ?? first.config["batch_shape"] ?? cfg["build_input_shape"] {
            x = try makeInput("\(first.name)_input", shape: shape, layer: first.name)
        } else {
            throw LoupeError.invalid("\(file): Sequential model '\(modelName)' declares no input shape (no InputLayer, batch_input_shape or build_input_shape)")
        }
        var namer = SaveNamer()
        for p in parts where p.cls != "InputLayer" {
            let here = path + [(p.name, namer.next(p.cls))]
            x = try callLayer(p.cls, p.name, p.config, path: here, inputs: [x], nodeName: p.name + suffix, suffix: suffix)[0]
        }
        return [x]
    }

    private func buildFunctional(_ cfg: [String: Any], inputs: [KerasValue]?, path: [(String, String)], suffix: String) throws -> [KerasValue] {
        let modelName = (cfg["name"] as? String) ?? "model"
        guard let layers = cfg["layers"] as? [Any] else { throw LoupeError.invalid("\(file): model '\(modelName)' has no layers list") }
        let parts = try layers.map { try layerParts($0, in: modelName) }
        var namer = SaveNamer()
        let saveNames = parts.map { namer.next($0.cls) }
        var values: [String: KerasValue] = [:]
        let inputRefs = try refs(cfg["input_layers"], modelName)
        if let inputs {
            guard inputs.count == inputRefs.count else {
                throw LoupeError.invalid("\(file): model '\(modelName)' has \(inputRefs.count) inputs but is called with \(inputs.count)")
            }
            for (r, v) in zip(inputRefs, inputs) { values[r.key] = v }
        } else {
            for r in inputRefs {
                guard let p = parts.first(where: { $0.name == r.layer && $0.cls == "InputLayer" }) else {
                    throw LoupeError.invalid("\(file): model input '\(r.layer)' is not an InputLayer of '\(modelName)'")
                }
                values[r.key] = try makeInput(p.name, shape: p.config["batch_shape"] ?? p.config["batch_input_shape"], layer: p.name)
            }
        }
        let inbound = try parts.map { try nodes($0.raw["inbound_nodes"], layer: $0.name) }
        var done = Set<String>()
        var progress = true
        while progress {
            progress = false
            for (i, p) in parts.enumerated() where p.cls != "InputLayer" {
                for (k, node) in inbound[i].enumerated() where !done.contains("\(i):\(k)") {
                    guard node.allSatisfy({ values[$0.key] != nil }) else { continue }
                    let here = path + [(p.name, saveNames[i])]
                    let nodeName = p.name + suffix + (k == 0 ? "" : "/\(k)")
                    let outs = try callLayer(p.cls, p.name, p.config, path: here, inputs: node.map { values[$0.key]! },
                                             nodeName: nodeName, suffix: suffix + (k == 0 ? "" : "/\(k)"))
                    let index = k + nodeIndexOffset(p.cls, p.config, inbound: p.raw["inbound_nodes"])
                    for (j, o) in outs.enumerated() { values["\(p.name):\(index):\(j)"] = o }
                    done.insert("\(i):\(k)")
                    progress = true
                }
            }
        }
        return try refs(cfg["output_layers"], modelName).map { r in
            guard let v = values[r.key] else {
                throw LoupeError.invalid("\(file): output '\(r.layer)' of model '\(modelName)' cannot be computed from its inputs")
            }
            return v
        }
    }

    /// Keras 2 numbers the calls of a nested model from 1 when the model was built on its own
    /// InputLayer (that construction is the model's node 0; tf-keras `_should_skip_first_node`).
    /// Keras 3 configs number from 0.
    private func nodeIndexOffset(_ cls: String, _ cfg: [String: Any], inbound: Any?) -> Int {
        guard Self.modelClasses.contains(cls), let first = (inbound as? [Any])?.first, first is [Any],
              let layers = cfg["layers"] as? [Any], let l0 = layers.first as? [String: Any] else { return 0 }
        return l0["class_name"] as? String == "InputLayer" ? 1 : 0
    }

    private func callLayer(_ cls: String, _ name: String, _ cfg: [String: Any], path: [(String, String)], inputs: [KerasValue],
                           nodeName: String, suffix: String) throws -> [KerasValue] {
        if Self.modelClasses.contains(cls) {
            return try buildModel(cls, cfg, inputs: inputs, path: path, suffix: suffix)
        }
        guard let convert = Self.converters[cls] else {
            let custom = (cfg["registered_name"] as? String).map { " (registered as '\($0)')" } ?? ""
            throw LoupeError.unsupported("\(file): layer '\(name)' has class '\(cls)'\(custom), which Loupe cannot import; supported classes: \(Self.converters.keys.sorted().joined(separator: ", "))")
        }
        let call = KerasLayerCall(className: cls, layerName: name, config: cfg,
                                  path: KerasLayerPath(parts: path.map { (layerName: $0.0, saveName: $0.1) }),
                                  nodeName: nodeName, inputs: inputs)
        return [try tagged(cls) { try convert(self, call) }]
    }

    private func makeInput(_ name: String, shape: Any?, layer: String) throws -> KerasValue {
        guard let s = shape as? [Any], !s.isEmpty else {
            throw LoupeError.invalid("\(file): input layer '\(layer)' declares no batch_shape")
        }
        let dims: [Dim] = s.enumerated().map { i, d in
            (d as? NSNumber).map { .fixed($0.intValue) } ?? .symbol(i == 0 ? "batch" : "\(name)_\(i)")
        }
        reserve(name)
        graph.inputs.append(ValueInfo(name: name, dtype: .float32, dims: dims))
        return KerasValue(name: name, rank: dims.count)
    }

    /// A reference to a layer output: `[layer, node_index, tensor_index]`.
    struct Ref {
        var layer: String
        var node: Int
        var tensor: Int
        var key: String { "\(layer):\(node):\(tensor)" }
    }

    private func ref(_ v: Any) -> Ref? {
        guard let a = v as? [Any], a.count >= 3, let l = a[0] as? String,
              let n = (a[1] as? NSNumber)?.intValue, let t = (a[2] as? NSNumber)?.intValue else { return nil }
        return Ref(layer: l, node: n, tensor: t)
    }

    /// `input_layers` / `output_layers`: one reference or a list of them.
    private func refs(_ v: Any?, _ model: String) throws -> [Ref] {
        guard let a = v as? [Any] else { throw LoupeError.invalid("\(file): model '\(model)' lists no input_layers/output_layers") }
        if a.first is String, let r = ref(a) { return [r] }
        return try a.map { guard let r = ref($0) else { throw LoupeError.invalid("\(file): model '\(model)' has a malformed layer reference") }; return r }
    }

    /// The inputs of each call of a layer. Keras 2: `[[name, node, tensor, kwargs], ...]`;
    /// Keras 3: `{"args": [...], "kwargs": {...}}` holding `__keras_tensor__` objects.
    private func nodes(_ v: Any?, layer: String) throws -> [[Ref]] {
        guard let list = v as? [Any] else { return [] }
        return try list.map { node in
            if let d = node as? [String: Any] {
                var found: [Ref] = []
                collect(d["args"], into: &found)
                return found
            }
            guard let items = node as? [Any] else { throw LoupeError.invalid("\(file): layer '\(layer)' has a malformed inbound node") }
            return try items.map { guard let r = ref($0) else { throw LoupeError.invalid("\(file): layer '\(layer)' has a malformed inbound node") }; return r }
        }
    }

    private func collect(_ v: Any?, into found: inout [Ref]) {
        if let d = v as? [String: Any] {
            if d["class_name"] as? String == "__keras_tensor__",
               let h = (d["config"] as? [String: Any])?["keras_history"], let r = ref(h as Any) {
                found.append(r)
            }
        } else if let a = v as? [Any] {
            for x in a { collect(x, into: &found) }
        }
    }
}

/// The names Keras 3 gives layers inside a `.keras` weights file: the snake-cased class
/// name, then `_1`, `_2`, ... for repeats within the same container.
struct SaveNamer {
    private var used: [String: Int] = [:]

    mutating func next(_ cls: String) -> String {
        let base = Self.snakeCase(cls)
        if let n = used[base] {
            used[base] = n + 1
            return "\(base)_\(n + 1)"
        }
        used[base] = 0
        return base
    }

    /// `Conv2D` → `conv2d`, `BatchNormalization` → `batch_normalization`, `PReLU` → `p_re_lu`.
    static func snakeCase(_ s: String) -> String {
        let c = Array(s.filter { $0.isLetter || $0.isNumber || $0 == "_" })
        // Pass 1: "_" before an uppercase letter followed by lowercase letters (not at the start).
        var a: [Character] = []
        for (i, ch) in c.enumerated() {
            if i > 0, ch.isUppercase, i + 1 < c.count, c[i + 1].isLowercase { a.append("_") }
            a.append(ch)
        }
        // Pass 2: "_" between a lowercase letter and an uppercase one.
        var b: [Character] = []
        for (i, ch) in a.enumerated() {
            if i > 0, ch.isUppercase, a[i - 1].isLowercase { b.append("_") }
            b.append(ch)
        }
        return String(b).lowercased()
    }
}
