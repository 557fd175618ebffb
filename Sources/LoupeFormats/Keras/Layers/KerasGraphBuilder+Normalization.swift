import Foundation
import LoupeGraph
import LoupeTensor

/// BatchNormalization, Rescaling and Normalization.
extension KerasGraphBuilder {
    /// The graph axis a per-channel layer works on; a rank-4 channels-last value is moved
    /// to NCHW when its channel axis is the one normalised.
    private func channelAxis(_ x: inout KerasValue, _ call: KerasLayerCall) throws -> Int {
        var axis = -1
        if let a = call.config["axis"] as? NSNumber { axis = a.intValue }
        if let a = call.config["axis"] as? [NSNumber] {
            guard a.count == 1 else { throw LoupeError.unsupported("\(file): \(call.label): normalising over several axes") }
            axis = a[0].intValue
        }
        let a = axis < 0 ? axis + x.rank : axis
        if x.rank == 4, !x.nchw, a == 3 { x = channelsFirst(x, call, channelsLast: true) }
        return try graphAxis(x, a, call)
    }

    /// A per-channel vector shaped to broadcast along graph axis `axis` of a rank-`rank` value.
    private func perChannel(_ v: [Float], axis: Int, rank: Int) -> Tensor {
        var shape = [Int](repeating: 1, count: rank - axis)
        shape[0] = v.count
        return Tensor(shape: shape, floats: v)
    }

    /// BatchNormalization at inference: (x − moving_mean) / sqrt(moving_variance + epsilon) · gamma + beta.
    func batchNormalization(_ call: KerasLayerCall) throws -> KerasValue {
        var x = try single(call)
        let axis = try channelAxis(&x, call)
        guard axis == 1 else {
            throw LoupeError.unsupported("\(file): \(call.label) normalises axis \(axis) of a rank-\(x.rank) tensor; Loupe supports the channel axis")
        }
        let scale = call.bool("scale", true), center = call.bool("center", true)
        let names = (scale ? ["gamma"] : []) + (center ? ["beta"] : []) + ["moving_mean", "moving_variance"]
        var ws = try weights(call, names, ranks: names.map { _ in 1 })
        let c = ws.last!.count
        guard ws.allSatisfy({ $0.count == c }) else {
            throw LoupeError.invalid("\(file): \(call.label): weights have different lengths (\(ws.map { describe($0.shape) }.joined(separator: ", ")))")
        }
        if !scale { ws.insert(Tensor(shape: [c], floats: [Float](repeating: 1, count: c)), at: 0) }
        if !center { ws.insert(Tensor(shape: [c], floats: [Float](repeating: 0, count: c)), at: 1) }
        let inputs = [x.name] + zip(ws, ["scale", "bias", "mean", "var"]).map { param($0, call.param($1)) }
        let eps = try call.float("epsilon", 0.001)
        return KerasValue(name: emit("BatchNormalization", inputs, name: call.nodeName, ["epsilon": .float(eps)]), rank: x.rank, nchw: x.nchw)
    }

    /// Rescaling: x · scale + offset (scalars, or per-channel lists on the last axis).
    func rescaling(_ call: KerasLayerCall) throws -> KerasValue {
        var x = try single(call)
        func values(_ key: String, _ def: Float) throws -> [Float] {
            if let n = call.config[key] as? NSNumber { return [n.floatValue] }
            if let a = call.config[key] as? [NSNumber] { return a.map(\.floatValue) }
            if call.config[key] == nil { return [def] }
            throw LoupeError.invalid("\(file): \(call.label): \(key) should be a number or a list of numbers")
        }
        let scale = try values("scale", 1), offset = try values("offset", 0)
        func tensor(_ v: [Float]) throws -> Tensor {
            if v.count == 1 { return .scalar(v[0]) }
            var y = x
            let axis = try channelAxisLast(&y, call)
            x = y
            return perChannel(v, axis: axis, rank: x.rank)
        }
        let s = try tensor(scale), o = try tensor(offset)
        let m = emit("Mul", [x.name, param(s, call.param("scale", layout: x))], name: call.sub("mul"))
        return KerasValue(name: emit("Add", [m, param(o, call.param("offset", layout: x))], name: call.nodeName), rank: x.rank, nchw: x.nchw)
    }

    private func channelAxisLast(_ x: inout KerasValue, _ call: KerasLayerCall) throws -> Int {
        if x.rank == 4, !x.nchw { x = channelsFirst(x, call, channelsLast: true) }
        return try graphAxis(x, -1, call)
    }

    /// Normalization: (x − mean) / max(sqrt(variance), 1e-7), mean and variance from the
    /// config or from the layer's weights (`mean`, `variance`, `count`).
    func normalization(_ call: KerasLayerCall) throws -> KerasValue {
        var x = try single(call)
        if call.bool("invert", false) {
            throw LoupeError.unsupported("\(file): \(call.label) has invert=True, which Loupe cannot import")
        }
        let axis = try channelAxis(&x, call)
        var mean: [Float], variance: [Float]
        if let m = call.config["mean"], !(m is NSNull), let v = call.config["variance"], !(v is NSNull) {
            func floats(_ a: Any) -> [Float]? { (a as? NSNumber).map { [$0.floatValue] } ?? (a as? [NSNumber])?.map(\.floatValue) }
            guard let mm = floats(m), let vv = floats(v) else {
                throw LoupeError.invalid("\(file): \(call.label): mean/variance should be numbers or flat lists")
            }
            (mean, variance) = (mm, vv)
        } else {
            let ws = try weights(call, ["mean", "variance"], ranks: [-1, -1])
            (mean, variance) = (ws[0].floats, ws[1].floats)
        }
        guard mean.count == variance.count else { throw LoupeError.invalid("\(file): \(call.label): mean and variance differ in length") }
        let denom = variance.map { max($0.squareRoot(), 1e-7) }
        func tensor(_ v: [Float]) -> Tensor { v.count == 1 ? .scalar(v[0]) : perChannel(v, axis: axis, rank: x.rank) }
        let s = emit("Sub", [x.name, param(tensor(mean), call.param("mean", layout: x))], name: call.sub("sub"))
        return KerasValue(name: emit("Div", [s, param(tensor(denom), call.param("std", layout: x))], name: call.nodeName), rank: x.rank, nchw: x.nchw)
    }
}
