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
        let w = param(ws[0], call.param("kernel"))
        let b = useBias ? param(ws[1], call.param("bias")) : nil
        return try withActivation(call, op: "dense") { name in
            if x.rank == 2 {
                return KerasValue(name: emit("Gemm", [x.name, w] + (b.map { [$0] } ?? []), name: name), rank: 2)
            }
            guard let b else { return KerasValue(name: emit("MatMul", [x.name, w], name: name), rank: x.rank) }
            let m = emit("MatMul", [x.name, w], name: call.sub("matmul"))
            return KerasValue(name: emit("Add", [m, b], name: name), rank: x.rank)
        }
    }

    /// `[N, C, H, W]` → `[N, H·W, C]`: the element order of a flattened channels-last tensor,
    /// reached through rank-3 tensors only (a 4-D NHWC intermediate would look like a
    /// spatial layer to Grad-CAM's layer search).
    private func channelsLastRows(_ x: KerasValue, _ call: KerasLayerCall) -> String {
        let r = emit("Reshape", [x.name, ints([0, 0, -1], call.sub("rows_shape"))], name: call.sub("rows"))
        return emit("Transpose", [r], name: call.sub("to_channels_last"), ["perm": .ints([0, 2, 1])])
    }

    /// Flatten in Keras order (channels-last: H, W, C). With `data_format = channels_first`
    /// Keras moves the channel axis last first, which gives the same order.
    func flatten(_ call: KerasLayerCall) throws -> KerasValue {
        let x = try single(call)
        let last = try channelsLast(call)
        let input = x.nchw || (!last && x.rank > 2) ? channelsLastRows(x, call) : x.name
        return KerasValue(name: emit("Flatten", [input], name: call.nodeName, ["axis": .int(1)]), rank: 2)
    }

    func reshape(_ call: KerasLayerCall) throws -> KerasValue {
        let x = try single(call)
        guard let target = call.config["target_shape"] as? [NSNumber] else {
            throw LoupeError.invalid("\(file): \(call.label) has no target_shape")
        }
        let input = x.nchw ? channelsLastRows(x, call) : x.name
        let shape = ints([0] + target.map(\.intValue), call.sub("shape"))
        return KerasValue(name: emit("Reshape", [input, shape], name: call.nodeName), rank: target.count + 1)
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
