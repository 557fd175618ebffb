import Foundation
import LoupeGraph
import LoupeTensor

/// A Keras tensor as the graph holds it. Keras keeps images channels-last (NHWC); Loupe's
/// ops want NCHW, so a rank-4 channels-last tensor is usually held transposed (`nchw`),
/// and turned back to Keras order only where order matters (Flatten, Reshape, Dense, ...).
struct KerasValue {
    var name: String
    /// Rank of the Keras tensor, batch included.
    var rank: Int
    /// True when `name` holds the NHWC Keras tensor transposed to NCHW.
    var nchw: Bool = false
}

/// One application of a layer: its config, where it sits, the inputs, and the node name its
/// output node takes (the layer name; `name/1`, `name/2`, ... for later calls of a shared layer).
struct KerasLayerCall {
    var className: String
    var layerName: String
    var config: [String: Any]
    var path: KerasLayerPath
    var nodeName: String
    var inputs: [KerasValue]

    /// A name for an intermediate node of this layer.
    func sub(_ suffix: String) -> String { "\(nodeName)/\(suffix)" }
    /// The name of a constant of this layer, the same for every call.
    func param(_ suffix: String) -> String { "\(path.description)/\(suffix)" }
    /// The same for a constant shaped to broadcast against `x`, which a shared layer may see
    /// in either layout.
    func param(_ suffix: String, layout x: KerasValue) -> String { param("\(suffix)\(x.nchw ? "_nchw" : "")_r\(x.rank)") }
    var label: String { "layer '\(layerName)' (\(className))" }
}

/// Builds Loupe's IR from Keras layers with default-domain ONNX ops at opset 13. Every
/// node records its Keras class in the attribute `loupe.keras_class`.
final class KerasGraphBuilder {
    var graph = Graph()
    let file: String
    let weights: KerasWeightSource
    /// Keras 2 files differ in a few definitions (hard_sigmoid, LeakyReLU's `alpha`).
    let keras2: Bool
    private var used: Set<String> = []
    private var layoutCache: [String: KerasValue] = [:]
    private var currentClass = ""
    private var params: [String: String] = [:]

    static let classAttribute = "loupe.keras_class"

    init(file: String, weights: KerasWeightSource, keras2: Bool) {
        self.file = file
        self.weights = weights
        self.keras2 = keras2
        graph.opset = 13
        graph.metadata["producer"] = keras2 ? "keras 2" : "keras"
    }

    func unique(_ base: String) -> String {
        var n = base
        var i = 1
        while used.contains(n) || graph.initializers[n] != nil {
            n = "\(base)_\(i)"
            i += 1
        }
        used.insert(n)
        return n
    }

    func reserve(_ name: String) { used.insert(name) }

    /// Adds a node whose single output tensor has the node's name; returns that name.
    @discardableResult
    func emit(_ op: String, _ inputs: [String], name: String, _ attrs: [String: Attribute] = [:]) -> String {
        let n = unique(name)
        var a = attrs
        if !currentClass.isEmpty { a[Self.classAttribute] = .string(currentClass) }
        graph.nodes.append(Node(name: n, opType: op, inputs: inputs, outputs: [n], attributes: a))
        return n
    }

    /// Adds a constant (an initializer) and returns its name.
    func constant(_ t: Tensor, _ name: String) -> String {
        let n = unique(name)
        graph.initializers[n] = t
        return n
    }

    /// A constant of a layer (weights, derived weights): made once per layer and name, so
    /// that every call of a shared layer or nested model reads the same initializer.
    func param(_ t: @autoclosure () -> Tensor, _ name: String) -> String {
        if let n = params[name] { return n }
        let n = constant(t(), name)
        params[name] = n
        return n
    }

    func ints(_ v: [Int], _ name: String) -> String { constant(Tensor.vector(v.map(Int64.init)), name) }

    /// Runs `body` with nodes tagged as coming from Keras class `cls`.
    func tagged<T>(_ cls: String, _ body: () throws -> T) rethrows -> T {
        let saved = currentClass
        currentClass = cls
        defer { currentClass = saved }
        return try body()
    }

    // MARK: Layout

    /// The value in NCHW order, for a layer working on `data_format`. Channels-first layers
    /// see Keras order (already NCHW); channels-last rank-4 values are transposed once and cached.
    func channelsFirst(_ v: KerasValue, _ call: KerasLayerCall, channelsLast: Bool) -> KerasValue {
        guard channelsLast else { return kerasOrder(v) }
        if v.nchw || v.rank != 4 { return v }
        if let c = layoutCache["nchw:" + v.name] { return c }
        let t = tagged("") { emit("Transpose", [v.name], name: "\(v.name)/to_nchw", ["perm": .ints([0, 3, 1, 2])]) }
        let r = KerasValue(name: t, rank: 4, nchw: true)
        layoutCache["nchw:" + v.name] = r
        return r
    }

    /// The value in Keras's own axis order.
    func kerasOrder(_ v: KerasValue) -> KerasValue {
        guard v.nchw else { return v }
        if let c = layoutCache["nhwc:" + v.name] { return c }
        let t = tagged("") { emit("Transpose", [v.name], name: "\(v.name)/to_nhwc", ["perm": .ints([0, 2, 3, 1])]) }
        let r = KerasValue(name: t, rank: 4, nchw: false)
        layoutCache["nhwc:" + v.name] = r
        return r
    }

    /// The graph axis holding Keras axis `axis` (negative counts from the end) of `v`.
    func graphAxis(_ v: KerasValue, _ axis: Int, _ call: KerasLayerCall) throws -> Int {
        let a = axis < 0 ? axis + v.rank : axis
        guard a >= 0, a < v.rank else {
            throw LoupeError.invalid("\(call.label): axis \(axis) is out of range for a rank-\(v.rank) input")
        }
        return v.nchw ? [0, 2, 3, 1][a] : a
    }

    /// Whether a layer works channels-last (`data_format`, Keras's default).
    func channelsLast(_ call: KerasLayerCall) throws -> Bool {
        let f = (call.config["data_format"] as? String) ?? "channels_last"
        guard f == "channels_last" || f == "channels_first" else {
            throw LoupeError.invalid("\(call.label): unknown data_format '\(f)'")
        }
        return f == "channels_last"
    }

    /// The layer's weights, shape-checked by rank.
    func weights(_ call: KerasLayerCall, _ names: [String], ranks: [Int]) throws -> [Tensor] {
        let ws = try weights.weights(call.path, names, className: call.className)
        for (i, w) in ws.enumerated() where i < ranks.count && ranks[i] >= 0 && w.rank != ranks[i] {
            throw LoupeError.invalid("\(file): \(call.label): weight '\(names[i])' has shape \(describe(w.shape)), expected rank \(ranks[i])")
        }
        return ws
    }
}

// MARK: - Config access

extension KerasLayerCall {
    func int(_ key: String, _ def: Int) throws -> Int {
        guard let v = config[key], !(v is NSNull) else { return def }
        if let n = v as? NSNumber { return n.intValue }
        throw LoupeError.invalid("\(label): config '\(key)' should be a number")
    }
    func float(_ key: String, _ def: Float) throws -> Float {
        guard let v = config[key], !(v is NSNull) else { return def }
        if let n = v as? NSNumber { return n.floatValue }
        throw LoupeError.invalid("\(label): config '\(key)' should be a number")
    }
    func optionalFloat(_ key: String) throws -> Float? {
        guard let v = config[key], !(v is NSNull) else { return nil }
        if let n = v as? NSNumber { return n.floatValue }
        throw LoupeError.invalid("\(label): config '\(key)' should be a number")
    }
    func bool(_ key: String, _ def: Bool) -> Bool { (config[key] as? Bool) ?? (config[key] as? NSNumber)?.boolValue ?? def }
    func string(_ key: String, _ def: String) -> String { (config[key] as? String) ?? def }
    /// An int or a list of `count` ints (`kernel_size: 3` or `[3, 3]`).
    func pair(_ key: String, _ def: [Int]?, count: Int = 2) throws -> [Int] {
        let v = config[key]
        if v == nil || v is NSNull, let def { return def }
        if let n = v as? NSNumber { return Array(repeating: n.intValue, count: count) }
        if let a = v as? [Any], a.count == count, let ns = a as? [NSNumber] { return ns.map(\.intValue) }
        throw LoupeError.invalid("\(label): config '\(key)' should be an int or a list of \(count) ints")
    }
}
