import Foundation
import LoupeGraph
import LoupeTensor

/// Dense, Flatten, Reshape, Permute: layers that work in Keras's own axis order, so a
/// channels-last image held as NCHW is transposed back to NHWC first.
extension KerasGraphBuilder {
    /// Dense: `kernel [in, out]`, `bias [out]`; Gemm on rank 2, MatMul + Add on the last axis otherwise.
    func dense(_ call: KerasLayerCall) throws -> KerasValue {
        let x = kerasOrder(try single(call))
        let useBias = call.bool("use_bias", true)
        let ws = try weights(call, useBias ? ["kernel", "bias"] : ["kernel"], ranks: [2, 1])
        let w = constant(ws[0], call.sub("kernel"))
        let b = useBias ? constant(ws[1], call.sub("bias")) : nil
        return try withActivation(call, op: "dense") { name in
            if x.rank == 2 {
                return KerasValue(name: emit("Gemm", [x.name, w] + (b.map { [$0] } ?? []), name: name), rank: 2)
            }
            guard let b else { return KerasValue(name: emit("MatMul", [x.name, w], name: name), rank: x.rank) }
            let m = emit("MatMul", [x.name, w], name: call.sub("matmul"))
            return KerasValue(name: emit("Add", [m, b], name: name), rank: x.rank)
        }
    }

    /// Flatten in Keras order (channels-last: H, W, C); `channels_first` moves the channel axis last first.
    func flatten(_ call: KerasLayerCall) throws -> KerasValue {
        var x = kerasOrder(try single(call))
        if !(try channelsLast(call)), x.rank > 2 {
            let perm = [0] + Array(2..<x.rank) + [1]
            x = KerasValue(name: emit("Transpose", [x.name], name: call.sub("to_channels_last"), ["perm": .ints(perm)]), rank: x.rank)
        }
        return KerasValue(name: emit("Flatten", [x.name], name: call.nodeName, ["axis": .int(1)]), rank: 2)
    }

    func reshape(_ call: KerasLayerCall) throws -> KerasValue {
        let x = kerasOrder(try single(call))
        guard let target = call.config["target_shape"] as? [NSNumber] else {
            throw LoupeError.invalid("\(file): \(call.label) has no target_shape")
        }
        let shape = ints([0] + target.map(\.intValue), call.sub("shape"))
        return KerasValue(name: emit("Reshape", [x.name, shape], name: call.nodeName), rank: target.count + 1)
    }

    /// Permute(dims): dims are 1-based and leave the batch axis in place.
    func permute(_ call: KerasLayerCall) throws -> KerasValue {
        let x = kerasOrder(try single(call))
        guard let dims = call.config["dims"] as? [NSNumber], dims.count == x.rank - 1,
              Set(dims.map(\.intValue)) == Set(1..<x.rank) else {
            throw LoupeError.invalid("\(file): \(call.label): dims should be a permutation of 1...\(x.rank - 1)")
        }
        return KerasValue(name: emit("Transpose", [x.name], name: call.nodeName, ["perm": .ints([0] + dims.map(\.intValue))]), rank: x.rank)
    }
}
