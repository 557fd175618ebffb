import ArgumentParser
import Foundation
import LoupeFormats
import LoupeGraph
import LoupeTensor

/// Preprocessing flags shared by every command that takes images.
struct ImageOptions: ParsableArguments {
    @Option(help: "Preprocessing preset: imagenet (resize 256, crop 224, ImageNet mean/std), caffe (BGR, 0-255, mean only), tf (values in [-1, 1]) or none (resize to the input size, values in [0, 1]). The flags below override parts of it.")
    var preprocess: String = "imagenet"

    @Option(parsing: .unconditional, help: "Resize the shorter side of the image to this many pixels before cropping.")
    var resize: Int?

    @Option(help: "Center crop as HxW (e.g. 224x224). Default: the model's input size; for a model whose input height and width are dynamic, the preset's crop (224x224 for imagenet, caffe and tf; 224x224 too for none, which has no crop of its own).")
    var crop: String?

    @Option(help: "Per-channel mean subtracted after scaling, as one value or three comma-separated values in the model's channel order.")
    var mean: String?

    @Option(help: "Per-channel standard deviation divided by after subtracting the mean (one or three comma-separated values).")
    var std: String?

    @Option(help: "Value scale of the pixels before mean and std: unit for [0, 1] or byte for [0, 255].")
    var scale: String?

    @Option(name: .customLong("channel-order"), help: "Channel order the model expects: rgb or bgr.")
    var channelOrder: String?

    @Option(help: "Input layout: nchw, nhwc, or auto (inferred from the model's input shape).")
    var layout: String = "auto"

    @Flag(help: "Feed a single luma channel (inferred automatically when the model's input has one channel).")
    var grayscale = false

    @Option(name: .customLong("input-npy"), help: "Feed this .npy tensor as it is, bypassing image decoding and preprocessing.")
    var inputNpy: String?

    @Option(name: .customLong("max-pixels"), parsing: .unconditional, help: "Refuse an image with more pixels (width x height) than this before decoding it: a small file can declare a huge image. The default is Pillow's limit.")
    var maxPixels: Int = ImageIO.defaultMaxPixels

    func validate() throws {
        _ = try Preprocessing.preset(named: preprocess)
        if let crop { _ = try parseSize(crop) }
        if let resize, resize < 1 { throw ValidationError("--resize must be positive") }
        if let scale, !["unit", "byte"].contains(scale) { throw ValidationError("--scale must be unit or byte") }
        if let channelOrder, !["rgb", "bgr"].contains(channelOrder) { throw ValidationError("--channel-order must be rgb or bgr") }
        if !["auto", "nchw", "nhwc"].contains(layout) { throw ValidationError("--layout must be auto, nchw or nhwc") }
        if let mean { _ = try parseFloats(mean, "--mean") }
        if let std { _ = try parseFloats(std, "--std") }
        if maxPixels < 1 { throw ValidationError("--max-pixels must be positive, got \(maxPixels)") }
    }

    /// Decodes the image at `path` within --max-pixels, saying how to raise the limit.
    func readImage(_ path: String) throws -> RGBImage {
        do {
            return try ImageIO.read(path: path, maxPixels: maxPixels)
        } catch let e as LoupeError where e.kind == .tooLarge && e.message.hasSuffix(ImageIO.pixelLimitHint) {
            throw LoupeError(e.kind, e.message + "; raise the limit with --max-pixels (to at least that pixel count) to decode it anyway")
        }
    }

    func parseSize(_ s: String) throws -> Preprocessing.Size {
        let (h, w) = try parseHxW(s, "--crop")
        return Preprocessing.Size(height: h, width: w)
    }

    func parseFloats(_ s: String, _ flag: String) throws -> [Float] {
        let v = s.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard v.count == 1 || v.count == 3, v.allSatisfy({ $0 != nil }) else {
            throw ValidationError("\(flag) expects one or three comma-separated numbers, got '\(s)'")
        }
        return v.map { $0! }
    }

    /// The preprocessing for `input`: the preset with the flags applied, fitted to the
    /// model's declared input (`Preprocessing.fitted`). Returns the settings and target H×W.
    func resolve(for input: ValueInfo) throws -> (Preprocessing, Int, Int) {
        var p = try Preprocessing.preset(named: preprocess)
        if grayscale { p.grayscale = true }
        if let resize { p.resizeShorterSide = resize }
        if let crop { p.centerCrop = try parseSize(crop) }
        if let scale { p.scale = scale == "byte" ? .byte : .unit }
        if let channelOrder { p.channelOrder = channelOrder == "bgr" ? .bgr : .rgb }
        if let mean { p.mean = try parseFloats(mean, "--mean") }
        if let std { p.std = try parseFloats(std, "--std") }
        let forced: Preprocessing.Layout? = layout == "auto" ? nil : Preprocessing.Layout(rawValue: layout)
        return p.fitted(to: input, layout: forced)
    }

    /// The input tensors for `images` (one [1, ...] tensor each), or the --input-npy tensor.
    func inputs(for graph: Graph, images: [String]) throws -> [(name: String, tensor: Tensor)] {
        guard graph.inputs.count == 1, let input = graph.inputs.first else {
            throw LoupeError(.invalidArgument, "image commands need a model with exactly one input; this one has \(graph.inputs.count) (\(graph.inputs.map(\.name).joined(separator: ", "))); use `loupe run`")
        }
        if let inputNpy {
            return [(inputNpy, try NPY.read(path: inputNpy))]
        }
        guard !images.isEmpty else { throw LoupeError(.invalidArgument, "give at least one image, or --input-npy") }
        let (p, h, w) = try resolve(for: input)
        return try images.map { path in
            let img = try readImage(path)
            return (path, try p.tensor(from: img, height: h, width: w))
        }
    }
}
