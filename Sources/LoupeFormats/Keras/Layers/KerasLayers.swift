import Foundation
import LoupeGraph
import LoupeTensor

/// The layer converters, by Keras class name. Each takes one call of a layer and returns
/// its output; the node producing that output carries the call's node name.
extension KerasGraphBuilder {
    typealias Converter = (KerasGraphBuilder, KerasLayerCall) throws -> KerasValue

    static let converters: [String: Converter] = [
        "Dense": { try $0.dense($1) },
        "Flatten": { try $0.flatten($1) },
        "Reshape": { try $0.reshape($1) },
        "Permute": { try $0.permute($1) },
        "Dropout": { $0.identity($1) },
        "SpatialDropout1D": { $0.identity($1) },
        "SpatialDropout2D": { $0.identity($1) },
        "SpatialDropout3D": { $0.identity($1) },
        "GaussianNoise": { $0.identity($1) },
        "GaussianDropout": { $0.identity($1) },
        "AlphaDropout": { $0.identity($1) },
        "ActivityRegularization": { $0.identity($1) },
        "Activation": { try $0.activationLayer($1) },
        "ReLU": { try $0.relu($1) },
        "LeakyReLU": { try $0.leakyRelu($1) },
        "PReLU": { try $0.prelu($1) },
        "ELU": { try $0.elu($1) },
        "Softmax": { try $0.softmax($1) },
        "BatchNormalization": { try $0.batchNormalization($1) },
        "Rescaling": { try $0.rescaling($1) },
        "Normalization": { try $0.normalization($1) },
        "Conv2D": { try $0.conv2D($1) },
        "DepthwiseConv2D": { try $0.depthwiseConv2D($1) },
        "SeparableConv2D": { try $0.separableConv2D($1) },
        "Conv2DTranspose": { try $0.conv2DTranspose($1) },
        "MaxPooling2D": { try $0.pool2D($1, "MaxPool") },
        "AveragePooling2D": { try $0.pool2D($1, "AveragePool") },
        "GlobalAveragePooling2D": { try $0.globalPool2D($1, "GlobalAveragePool") },
        "GlobalMaxPooling2D": { try $0.globalPool2D($1, "GlobalMaxPool") },
        "Add": { try $0.merge($1, "Add") },
        "Subtract": { try $0.merge($1, "Sub") },
        "Multiply": { try $0.merge($1, "Mul") },
        "Average": { try $0.merge($1, "Mean") },
        "Maximum": { try $0.merge($1, "Max") },
        "Minimum": { try $0.merge($1, "Min") },
        "Concatenate": { try $0.concatenate($1) },
        "ZeroPadding2D": { try $0.zeroPadding2D($1) },
        "Cropping2D": { try $0.cropping2D($1) },
        "UpSampling2D": { try $0.upSampling2D($1) },
    ]

    /// The single input of a one-input layer.
    func single(_ call: KerasLayerCall) throws -> KerasValue {
        guard call.inputs.count == 1 else {
            throw LoupeError.invalid("\(file): \(call.label) takes one input, got \(call.inputs.count)")
        }
        return call.inputs[0]
    }

    /// Layers that do nothing at inference (dropout and noise).
    func identity(_ call: KerasLayerCall) -> KerasValue {
        let x = call.inputs[0]
        return KerasValue(name: emit("Identity", [x.name], name: call.nodeName), rank: x.rank, nchw: x.nchw)
    }
}

/// `t` with its axes permuted: `out.shape[i] = t.shape[perm[i]]`.
func permuted(_ t: Tensor, _ perm: [Int]) -> Tensor {
    let shape = perm.map { t.shape[$0] }
    let inStrides = contiguousStrides(t.shape)
    let outStrides = contiguousStrides(shape)
    var out = [Float](repeating: 0, count: t.count)
    let src = t.floats
    for o in 0..<t.count {
        var rem = o
        var s = 0
        for i in 0..<shape.count {
            let c = rem / outStrides[i]
            rem -= c * outStrides[i]
            s += c * inStrides[perm[i]]
        }
        out[o] = src[s]
    }
    return Tensor(shape: shape, floats: out)
}
