import Foundation
import LoupeGraph
import LoupeTensor

/// MaxPooling2D, AveragePooling2D (padding excluded from averages, as in Keras) and the
/// global poolings (`keepdims` keeps the 1×1 spatial axes).
extension KerasGraphBuilder {
    func pool2D(_ call: KerasLayerCall, _ op: String) throws -> KerasValue {
        let last = try channelsLast(call)
        let x = channelsFirst(try single(call), call, channelsLast: last)
        let size = try call.pair("pool_size", [2, 2])
        let strides = try call.pair("strides", size)
        let padding = call.string("padding", "valid")
        guard padding == "valid" || padding == "same" else {
            throw LoupeError.unsupported("\(file): \(call.label) has padding '\(padding)'")
        }
        var attrs: [String: Attribute] = ["kernel_shape": .ints(size), "strides": .ints(strides),
                                          "auto_pad": .string(padding == "same" ? "SAME_UPPER" : "VALID")]
        if op == "AveragePool" { attrs["count_include_pad"] = .int(0) }
        return KerasValue(name: emit(op, [x.name], name: call.nodeName, attrs), rank: 4, nchw: last)
    }

    func globalPool2D(_ call: KerasLayerCall, _ op: String) throws -> KerasValue {
        let last = try channelsLast(call)
        let x = channelsFirst(try single(call), call, channelsLast: last)
        if call.bool("keepdims", false) {
            return KerasValue(name: emit(op, [x.name], name: call.nodeName), rank: 4, nchw: last)
        }
        let p = emit(op, [x.name], name: call.sub("pool"))
        return KerasValue(name: emit("Flatten", [p], name: call.nodeName, ["axis": .int(1)]), rank: 2)
    }
}
