import Foundation
import LoupeGraph
import LoupeTensor

/// Activation functions (the `activation` argument of Conv2D/Dense and the Activation
/// layer) and the activation layers ReLU, LeakyReLU, PReLU, ELU, Softmax.
extension KerasGraphBuilder {
    /// Applies the Keras activation `kind` to `x`; the last node is named `name`. `linear`
    /// adds an Identity node (callers skip it when they can name the previous node instead).
    func activation(_ x: KerasValue, _ kind: Any?, name: String, _ call: KerasLayerCall) throws -> KerasValue {
        let k: String
        if kind == nil || kind is NSNull {
            k = "linear"
        } else if let s = kind as? String {
            k = s
        } else if let d = kind as? [String: Any], let s = (d["config"] as? String) ?? (d["class_name"] as? String), d["module"] as? String == "keras.activations" {
            k = s
        } else {
            throw LoupeError.unsupported("\(file): \(call.label) uses a custom activation (\(String(describing: kind!))), which Loupe cannot import")
        }
        func out(_ n: String) -> KerasValue { KerasValue(name: n, rank: x.rank, nchw: x.nchw) }
        func scalar(_ v: Float, _ tag: String) -> String { constant(.scalar(v), "\(name)/\(tag)") }
        switch k {
        case "linear": return out(emit("Identity", [x.name], name: name))
        case "relu": return out(emit("Relu", [x.name], name: name))
        case "relu6": return out(emit("Clip", [x.name, scalar(0, "min"), scalar(6, "max")], name: name))
        case "sigmoid": return out(emit("Sigmoid", [x.name], name: name))
        case "tanh": return out(emit("Tanh", [x.name], name: name))
        case "softplus": return out(emit("Softplus", [x.name], name: name))
        case "softsign": return out(emit("Softsign", [x.name], name: name))
        case "exponential": return out(emit("Exp", [x.name], name: name))
        case "elu": return out(emit("Elu", [x.name], name: name, ["alpha": .float(1)]))
        case "selu":
            return out(emit("Selu", [x.name], name: name, ["alpha": .float(1.6732632423543772), "gamma": .float(1.0507009873554805)]))
        case "leaky_relu": return out(emit("LeakyRelu", [x.name], name: name, ["alpha": .float(0.2)]))
        case "hard_sigmoid":
            // Keras 2: clip(0.2x + 0.5, 0, 1); Keras 3: relu6(x + 3) / 6.
            return out(emit("HardSigmoid", [x.name], name: name, ["alpha": .float(keras2 ? 0.2 : 1.0 / 6.0), "beta": .float(0.5)]))
        case "swish", "silu":
            let s = emit("Sigmoid", [x.name], name: "\(name)/sigmoid")
            return out(emit("Mul", [x.name, s], name: name))
        case "gelu":
            // Exact GELU: x/2 (1 + erf(x / sqrt 2)).
            let d = emit("Div", [x.name, scalar(Float(2.0.squareRoot()), "sqrt2")], name: "\(name)/div")
            let e = emit("Erf", [d], name: "\(name)/erf")
            let a = emit("Add", [e, scalar(1, "one")], name: "\(name)/add")
            let h = emit("Mul", [x.name, scalar(0.5, "half")], name: "\(name)/half")
            return out(emit("Mul", [h, a], name: name))
        case "softmax", "log_softmax":
            let axis = try graphAxis(x, -1, call)
            return out(emit(k == "softmax" ? "Softmax" : "LogSoftmax", [x.name], name: name, ["axis": .int(axis)]))
        default:
            throw LoupeError.unsupported("\(file): \(call.label) uses activation '\(k)', which Loupe cannot import")
        }
    }

    /// The layer's own computation followed by its `activation`: the computation takes the
    /// layer name when the activation is linear, `name/<op>` otherwise.
    func withActivation(_ call: KerasLayerCall, op: String, _ body: (String) throws -> KerasValue) throws -> KerasValue {
        let act = call.config["activation"]
        let linear = act == nil || act is NSNull || (act as? String) == "linear"
        let y = try body(linear ? call.nodeName : call.sub(op))
        return linear ? y : try activation(y, act, name: call.nodeName, call)
    }

    func activationLayer(_ call: KerasLayerCall) throws -> KerasValue {
        try activation(try single(call), call.config["activation"], name: call.nodeName, call)
    }

    /// ReLU(max_value, negative_slope, threshold): x for threshold ≤ x < max_value,
    /// negative_slope·(x − threshold) below, max_value above.
    func relu(_ call: KerasLayerCall) throws -> KerasValue {
        let x = try single(call)
        let maxValue = try call.optionalFloat("max_value")
        let slope = try call.float("negative_slope", 0)
        let threshold = try call.float("threshold", 0)
        func out(_ n: String) -> KerasValue { KerasValue(name: n, rank: x.rank, nchw: x.nchw) }
        let lastName = maxValue == nil ? call.nodeName : call.sub("relu")
        var y: String
        if threshold == 0 {
            y = slope == 0 ? emit("Relu", [x.name], name: lastName) : emit("LeakyRelu", [x.name], name: lastName, ["alpha": .float(slope)])
        } else {
            let t = param(.scalar(threshold), call.param("threshold"))
            let ge = emit("GreaterOrEqual", [x.name, t], name: call.sub("ge"))
            let shifted = emit("Sub", [x.name, t], name: call.sub("shift"))
            let low = emit("Mul", [shifted, param(.scalar(slope), call.param("slope"))], name: call.sub("low"))
            y = emit("Where", [ge, x.name, low], name: lastName)
        }
        if let m = maxValue {
            y = emit("Min", [y, param(.scalar(m), call.param("max_value"))], name: call.nodeName)
        }
        return out(y)
    }

    func leakyRelu(_ call: KerasLayerCall) throws -> KerasValue {
        let x = try single(call)
        let slope = try call.optionalFloat("negative_slope") ?? call.optionalFloat("alpha") ?? 0.3
        return KerasValue(name: emit("LeakyRelu", [x.name], name: call.nodeName, ["alpha": .float(slope)]), rank: x.rank, nchw: x.nchw)
    }

    func elu(_ call: KerasLayerCall) throws -> KerasValue {
        let x = try single(call)
        return KerasValue(name: emit("Elu", [x.name], name: call.nodeName, ["alpha": .float(try call.float("alpha", 1))]), rank: x.rank, nchw: x.nchw)
    }

    func softmax(_ call: KerasLayerCall) throws -> KerasValue {
        let x = try single(call)
        var axis = -1
        if let a = call.config["axis"] as? NSNumber { axis = a.intValue }
        if let a = call.config["axis"] as? [NSNumber] {
            guard a.count == 1 else { throw LoupeError.unsupported("\(file): \(call.label): softmax over several axes") }
            axis = a[0].intValue
        }
        let g = try graphAxis(x, axis, call)
        return KerasValue(name: emit("Softmax", [x.name], name: call.nodeName, ["axis": .int(g)]), rank: x.rank, nchw: x.nchw)
    }

    /// PReLU: `alpha` has the input's shape without the batch axis (1 along `shared_axes`).
    func prelu(_ call: KerasLayerCall) throws -> KerasValue {
        let x = try single(call)
        var alpha = try weights(call, ["alpha"], ranks: [x.rank - 1])[0]
        if x.nchw { alpha = permuted(alpha, [2, 0, 1]) }
        let a = param(alpha, call.param("alpha", layout: x))
        return KerasValue(name: emit("PRelu", [x.name, a], name: call.nodeName), rank: x.rank, nchw: x.nchw)
    }
}
