import LoupeTensor

/// How a unit image becomes the values the model expects: Lucent squashes the image into
/// [0, 1] and then applies the model's normalisation (`transform.normalize()`, ImageNet's mean
/// and std for torchvision models); Loupe applies the model's own preprocessing instead:
/// x = (u · maximum − mean[c]) / std[c], in the model's channel order.
///
/// The unit image is RGB for 3 channels; `reversedChannels` feeds BGR (the caffe preset).
/// `mean` and `std` hold one value per channel, one value for all, or nothing (0 and 1),
/// as in LoupeFormats' `Preprocessing`.
public struct InputValues: Sendable, Equatable {
    /// 1 for [0, 1] inputs, 255 for [0, 255].
    public var maximum: Float
    public var mean: [Float]
    public var std: [Float]
    public var reversedChannels: Bool

    public init(maximum: Float = 1, mean: [Float] = [], std: [Float] = [], reversedChannels: Bool = false) {
        self.maximum = maximum; self.mean = mean; self.std = std; self.reversedChannels = reversedChannels
    }

    /// A model's preprocessing (values scaled to [0, `maximum`], then (v − mean) / std, BGR
    /// order when `bgr`) fitted to a `channels`-channel input: for channel counts other than 1
    /// and 3 a three-value mean or std becomes its average; BGR applies to 3 channels only.
    public init(fitting channels: Int, maximum: Float, mean: [Float], std: [Float], bgr: Bool) {
        var mean = mean, std = std
        if channels != 3 && channels != 1 {
            if mean.count == 3 { mean = [mean.reduce(0, +) / 3] }
            if std.count == 3 { std = [std.reduce(0, +) / 3] }
        }
        self.init(maximum: maximum, mean: mean, std: std, reversedChannels: channels == 3 && bgr)
    }

    func mean(_ c: Int) -> Float { mean.isEmpty ? 0 : mean.count == 1 ? mean[0] : mean[c] }
    func std(_ c: Int) -> Float { std.isEmpty ? 1 : std.count == 1 ? std[0] : std[c] }

    /// Throws unless mean and std fit `channels` and no std is 0.
    public func check(channels: Int) throws {
        for (name, v) in [("mean", mean), ("std", std)] where !(v.count <= 1 || v.count == channels) {
            throw LoupeError(.invalidArgument, "the preprocessing \(name) has \(v.count) values but the model's input has \(channels) channels")
        }
        if std.contains(0) { throw LoupeError(.invalidArgument, "the preprocessing std \(std) contains 0") }
    }

    /// Model values for the unit image u = [C, plane].
    public func toModel(_ u: [Float], channels: Int, plane: Int) -> [Float] {
        var out = [Float](repeating: 0, count: u.count)
        for c in 0..<channels {
            let src = reversedChannels ? channels - 1 - c : c
            let (a, b) = (maximum / std(c), -mean(c) / std(c))
            for i in 0..<plane { out[c * plane + i] = a * u[src * plane + i] + b }
        }
        return out
    }

    /// The unit image for model values x (the inverse of `toModel`).
    public func toUnit(_ x: [Float], channels: Int, plane: Int) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        for c in 0..<channels {
            let dst = reversedChannels ? channels - 1 - c : c
            for i in 0..<plane { out[dst * plane + i] = (x[c * plane + i] * std(c) + mean(c)) / maximum }
        }
        return out
    }

    /// The gradient on u for a gradient g on the model values (the adjoint of `toModel`).
    public func adjoint(_ g: [Float], channels: Int, plane: Int) -> [Float] {
        var out = [Float](repeating: 0, count: g.count)
        for c in 0..<channels {
            let dst = reversedChannels ? channels - 1 - c : c
            let a = maximum / std(c)
            for i in 0..<plane { out[dst * plane + i] = a * g[c * plane + i] }
        }
        return out
    }
}


