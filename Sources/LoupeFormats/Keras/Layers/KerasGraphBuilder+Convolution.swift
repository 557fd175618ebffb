import Foundation
import LoupeGraph
import LoupeTensor

/// Conv2D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose. Keras kernels are
/// `[kh, kw, in, out]` (transpose: `[kh, kw, out, in]`); ONNX wants `[out, in/group, kh, kw]`
/// (transpose: `[in, out, kh, kw]`). Keras `same` padding puts the odd pixel at the end:
/// ONNX `auto_pad = SAME_UPPER`.
extension KerasGraphBuilder {
    private func convAttributes(_ call: KerasLayerCall, kernel: [Int], group: Int = 1) throws -> [String: Attribute] {
        let padding = call.string("padding", "valid")
        guard padding == "valid" || padding == "same" else {
            throw LoupeError.unsupported("\(file): \(call.label) has padding '\(padding)'; Loupe supports valid and same")
        }
        return ["kernel_shape": .ints(kernel), "strides": .ints(try call.pair("strides", [1, 1])),
                "dilations": .ints(try call.pair("dilation_rate", [1, 1])), "group": .int(group),
                "auto_pad": .string(padding == "same" ? "SAME_UPPER" : "VALID")]
    }

    func conv2D(_ call: KerasLayerCall) throws -> KerasValue {
        let last = try channelsLast(call)
        let x = channelsFirst(try single(call), call, channelsLast: last)
        let useBias = call.bool("use_bias", true)
        let ws = try weights(call, useBias ? ["kernel", "bias"] : ["kernel"], ranks: [4, 1])
        let groups = try call.int("groups", 1)
        let w = param(permuted(ws[0], [3, 2, 0, 1]), call.param("kernel"))
        let attrs = try convAttributes(call, kernel: Array(ws[0].shape[0..<2]), group: groups)
        let inputs = [x.name, w] + (useBias ? [param(ws[1], call.param("bias"))] : [])
        return try withActivation(call, op: "conv") { KerasValue(name: emit("Conv", inputs, name: $0, attrs), rank: 4, nchw: last) }
    }

    /// `[kh, kw, in, multiplier]` → `[in·multiplier, 1, kh, kw]` (output channel c·multiplier + m).
    private func depthwiseKernel(_ k: Tensor) -> Tensor {
        let s = k.shape
        return permuted(k.reshaped([s[0], s[1], s[2] * s[3], 1]), [2, 3, 0, 1])
    }

    func depthwiseConv2D(_ call: KerasLayerCall) throws -> KerasValue {
        let last = try channelsLast(call)
        let x = channelsFirst(try single(call), call, channelsLast: last)
        let useBias = call.bool("use_bias", true)
        let ws = try weights(call, useBias ? ["depthwise_kernel", "bias"] : ["depthwise_kernel"], ranks: [4, 1])
        let k = ws[0]
        let attrs = try convAttributes(call, kernel: Array(k.shape[0..<2]), group: k.shape[2])
        let inputs = [x.name, param(depthwiseKernel(k), call.param("kernel"))] + (useBias ? [param(ws[1], call.param("bias"))] : [])
        return try withActivation(call, op: "conv") { KerasValue(name: emit("Conv", inputs, name: $0, attrs), rank: 4, nchw: last) }
    }

    /// A depthwise convolution (no bias) followed by a 1×1 pointwise convolution with the bias.
    func separableConv2D(_ call: KerasLayerCall) throws -> KerasValue {
        let last = try channelsLast(call)
        let x = channelsFirst(try single(call), call, channelsLast: last)
        let useBias = call.bool("use_bias", true)
        let names = ["depthwise_kernel", "pointwise_kernel"] + (useBias ? ["bias"] : [])
        let ws = try weights(call, names, ranks: [4, 4, 1])
        let k = ws[0]
        let attrs = try convAttributes(call, kernel: Array(k.shape[0..<2]), group: k.shape[2])
        let d = emit("Conv", [x.name, param(depthwiseKernel(k), call.param("depthwise_kernel"))], name: call.sub("depthwise"), attrs)
        let p = param(permuted(ws[1], [3, 2, 0, 1]), call.param("pointwise_kernel"))
        let pointwise: [String: Attribute] = ["kernel_shape": .ints([1, 1])]
        let inputs = [d, p] + (useBias ? [param(ws[2], call.param("bias"))] : [])
        return try withActivation(call, op: "pointwise") { KerasValue(name: emit("Conv", inputs, name: $0, pointwise), rank: 4, nchw: last) }
    }

    /// Conv2DTranspose. Output size per axis: `same` → in·stride; `valid` → (in−1)·stride + k
    /// (in·stride when k < stride); `output_padding` given → (in−1)·stride + k − pads + output_padding.
    func conv2DTranspose(_ call: KerasLayerCall) throws -> KerasValue {
        let last = try channelsLast(call)
        let x = channelsFirst(try single(call), call, channelsLast: last)
        let useBias = call.bool("use_bias", true)
        let ws = try weights(call, useBias ? ["kernel", "bias"] : ["kernel"], ranks: [4, 1])
        let k = Array(ws[0].shape[0..<2])
        let strides = try call.pair("strides", [1, 1])
        let dil = try call.pair("dilation_rate", [1, 1])
        let padding = call.string("padding", "valid")
        guard padding == "valid" || padding == "same" else {
            throw LoupeError.unsupported("\(file): \(call.label) has padding '\(padding)'; Loupe supports valid and same")
        }
        let outPad = call.config["output_padding"].flatMap { $0 is NSNull ? nil : $0 } == nil ? nil : try call.pair("output_padding", nil)
        var begin = [0, 0], end = [0, 0], extra = [0, 0]
        for i in 0..<2 {
            let kd = (k[i] - 1) * dil[i] + 1
            if padding == "same" {
                let total = kd - strides[i]
                if let op = outPad {
                    let p = kd / 2
                    begin[i] = p; end[i] = p; extra[i] = op[i]
                } else if total >= 0 {
                    begin[i] = total / 2; end[i] = total - total / 2
                } else {
                    extra[i] = -total
                }
            } else if let op = outPad {
                extra[i] = op[i]
            } else if kd < strides[i] {
                extra[i] = strides[i] - kd
            }
        }
        var attrs: [String: Attribute] = ["kernel_shape": .ints(k), "strides": .ints(strides), "dilations": .ints(dil),
                                          "pads": .ints(begin + end)]
        if extra != [0, 0] { attrs["output_padding"] = .ints(extra) }
        let inputs = [x.name, param(permuted(ws[0], [3, 2, 0, 1]), call.param("kernel"))] + (useBias ? [param(ws[1], call.param("bias"))] : [])
        return try withActivation(call, op: "conv_transpose") { KerasValue(name: emit("ConvTranspose", inputs, name: $0, attrs), rank: 4, nchw: last) }
    }
}
