import LoupeTensor

/// How an image becomes a network input: geometry (resize, center crop), colour (grayscale,
/// channel order), values (scale, per-channel mean and std) and memory layout.
///
/// The steps, in order:
/// 1. Alpha is dropped.
/// 2. Geometry. With `resizeShorterSide = N` the image is resized (LoupeTensor's `Bilinear`:
///    half-pixel centers, no antialiasing; the longer side is `Int(N * long / short)`, truncated as
///    torchvision does) and the target `height x width` is cut from its center (offsets
///    rounded down). `centerCrop` is the crop the preset was designed for: when the target
///    differs, `N` is scaled by `max(height / crop.height, width / crop.width)`, so that
///    `imagenet` asked for 299x299 resizes to 342 and crops 299. Without
///    `resizeShorterSide` the image is resized straight to the target size.
/// 3. Colour. `grayscale` gives one channel, ITU-R BT.601 luma `0.299 R + 0.587 G + 0.114 B`;
///    otherwise three channels in `channelOrder` (a gray image is repeated).
/// 4. Values: samples in 0...1 are multiplied by 255 when `scale` is `.byte`, then
///    `(v - mean[c]) / std[c]`, with `mean` and `std` given in the *output* channel order
///    (BGR for `caffe`). Each holds one value per output channel, one value for all, or
///    nothing (mean 0, std 1).
/// 5. Layout: `[1, C, H, W]` (`.nchw`) or `[1, H, W, C]` (`.nhwc`).
public struct Preprocessing: Sendable, Equatable {
    public enum ValueScale: String, Sendable, CaseIterable { case unit, byte }
    public enum ChannelOrder: String, Sendable, CaseIterable { case rgb, bgr }
    public enum Layout: String, Sendable, CaseIterable { case nchw, nhwc }

    public struct Size: Sendable, Equatable {
        public var height: Int
        public var width: Int
        public init(height: Int, width: Int) { self.height = height; self.width = width }
    }

    public var resizeShorterSide: Int?
    public var centerCrop: Size?
    public var scale: ValueScale
    public var mean: [Float]
    public var std: [Float]
    public var channelOrder: ChannelOrder
    public var layout: Layout
    public var grayscale: Bool

    public init(resizeShorterSide: Int? = nil, centerCrop: Size? = nil, scale: ValueScale = .unit,
                mean: [Float] = [], std: [Float] = [], channelOrder: ChannelOrder = .rgb,
                layout: Layout = .nchw, grayscale: Bool = false) {
        self.resizeShorterSide = resizeShorterSide
        self.centerCrop = centerCrop
        self.scale = scale
        self.mean = mean
        self.std = std
        self.channelOrder = channelOrder
        self.layout = layout
        self.grayscale = grayscale
    }

    /// torchvision's ImageNet recipe: resize 256, crop 224, 0...1, ImageNet mean/std, RGB, NCHW.
    public static let imagenet = Preprocessing(
        resizeShorterSide: 256, centerCrop: Size(height: 224, width: 224), scale: .unit,
        mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])

    /// Caffe/Keras "caffe" mode: BGR, 0...255, BGR mean subtracted, no std.
    public static let caffe = Preprocessing(
        resizeShorterSide: 256, centerCrop: Size(height: 224, width: 224), scale: .byte,
        mean: [103.939, 116.779, 123.68], std: [1, 1, 1], channelOrder: .bgr)

    /// Keras "tf" mode: values in [-1, 1].
    public static let tf = Preprocessing(
        resizeShorterSide: 256, centerCrop: Size(height: 224, width: 224), scale: .unit,
        mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5])

    /// Resize to the target size, values in 0...1, RGB, NCHW.
    public static let none = Preprocessing()

    /// The presets by name: imagenet, caffe, tf, none.
    public static let presets: [String: Preprocessing] = ["imagenet": .imagenet, "caffe": .caffe, "tf": .tf, "none": .none]

    public static func preset(named name: String) throws -> Preprocessing {
        guard let p = presets[name.lowercased()] else {
            throw LoupeError(.invalidArgument, "unknown preprocessing '\(name)'; choose one of \(presets.keys.sorted().joined(separator: ", "))")
        }
        return p
    }

    /// The output channel count.
    public var channels: Int { grayscale ? 1 : 3 }

    /// The input tensor for `image` at the preset's own crop size (or the image's size when
    /// there is neither a crop nor a resize).
    public func tensor(from image: RGBImage) throws -> Tensor {
        let size = centerCrop ?? Size(height: image.height, width: image.width)
        return try tensor(from: image, height: size.height, width: size.width)
    }

    /// The input tensor for `image`, `[1, C, height, width]` or `[1, height, width, C]`.
    public func tensor(from image: RGBImage, height: Int, width: Int) throws -> Tensor {
        guard height > 0, width > 0 else {
            throw LoupeError(.invalidArgument, "target size \(height)x\(width) must be positive")
        }
        guard image.width > 0, image.height > 0 else {
            throw LoupeError(.invalidArgument, "cannot preprocess an empty \(image.width)x\(image.height) image")
        }
        let outC = channels
        let meanV = try perChannel(mean, name: "mean", default: 0)
        let stdV = try perChannel(std, name: "std", default: 1)
        guard !stdV.contains(0) else { throw LoupeError(.invalidArgument, "std \(std) contains 0") }

        // Geometry: resized size (rw x rh) and the crop's top-left corner in it.
        let (rw, rh) = try resizedSize(image: image, height: height, width: width)
        let top = (rh - height) / 2, left = (rw - width) / 2
        let ys = Bilinear.taps(inSize: image.height, outSize: rh, offset: top, count: height)
        let xs = Bilinear.taps(inSize: image.width, outSize: rw, offset: left, count: width)

        // Colour: weights from the source's colour channels to each output channel.
        let srcC = image.channels
        let colorC = srcC >= 3 ? 3 : 1  // colour channels before alpha
        var mix = [[Float]](repeating: [Float](repeating: 0, count: colorC), count: outC)
        if grayscale {
            mix[0] = colorC == 3 ? [0.299, 0.587, 0.114] : [1]
        } else {
            for c in 0..<3 {
                let from = channelOrder == .rgb ? c : 2 - c
                if colorC == 3 { mix[c][from] = 1 } else { mix[c][0] = 1 }
            }
        }
        let valueScale: Float = scale == .byte ? 255 : 1
        let mulC = (0..<outC).map { valueScale / stdV[$0] }
        let addC = (0..<outC).map { -meanV[$0] / stdV[$0] }
        let mixFlat = mix.flatMap { $0 }

        let shape = layout == .nchw ? [1, outC, height, width] : [1, height, width, outC]
        let plane = height * width
        let nchw = layout == .nchw
        // The crop of the resized image, every source channel (alpha too), HWC.
        var crop = [Float](repeating: 0, count: try Tensor.checkedCount([height, width, srcC]))
        image.pixels.withUnsafeBufferPointer { src in
            crop.withUnsafeMutableBufferPointer { dst in
                Bilinear.resample(src.baseAddress!, width: image.width, channels: srcC, rows: ys, columns: xs,
                                  into: dst.baseAddress!)
            }
        }
        return try Tensor(shape: shape) { out in
            for oy in 0..<height {
                for ox in 0..<width {
                    let p = (oy * width + ox) * srcC
                    for o in 0..<outC {
                        var v: Float = 0
                        for c in 0..<colorC { v += mixFlat[o * colorC + c] * crop[p + c] }
                        let index = nchw ? o * plane + oy * width + ox : (oy * width + ox) * outC + o
                        out[index] = v * mulC[o] + addC[o]
                    }
                }
            }
        }
    }

    /// The size the whole image is resized to before the center crop.
    func resizedSize(image: RGBImage, height: Int, width: Int) throws -> (Int, Int) {
        try resizedSize(width: image.width, height: image.height, targetHeight: height, targetWidth: width)
    }

    /// The same for an image of `width × height` pixels.
    func resizedSize(width w: Int, height h: Int, targetHeight height: Int, targetWidth width: Int) throws -> (Int, Int) {
        guard var n = resizeShorterSide else { return (width, height) }
        guard n > 0 else { throw LoupeError(.invalidArgument, "resizeShorterSide \(n) must be positive") }
        if let crop = centerCrop, crop != Size(height: height, width: width) {
            let factor = max(Double(height) / Double(crop.height), Double(width) / Double(crop.width))
            n = Int((Double(n) * factor).rounded())
        }
        let (rw, rh) = w <= h ? (n, Int(Double(n) * Double(h) / Double(w))) : (Int(Double(n) * Double(w) / Double(h)), n)
        guard rw >= width, rh >= height else {
            throw LoupeError(.invalidArgument, "resizing \(w)x\(h) so that its shorter side is \(n) gives \(rw)x\(rh), smaller than the \(width)x\(height) crop")
        }
        return (rw, rh)
    }

    private func perChannel(_ v: [Float], name: String, default d: Float) throws -> [Float] {
        switch v.count {
        case 0: return [Float](repeating: d, count: channels)
        case 1: return [Float](repeating: v[0], count: channels)
        case channels: return v
        default:
            throw LoupeError(.invalidArgument, "\(name) has \(v.count) values but the output has \(channels) channel\(channels == 1 ? "" : "s")")
        }
    }
}
