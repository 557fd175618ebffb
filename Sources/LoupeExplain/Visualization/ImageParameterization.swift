import Foundation
import LoupeTensor

/// How the optimised parameters become an image in the unit range, [C, H, W] with values in
/// [0, 1] (RGB order for 3 channels): Lucent's `param.image(w, h, fft=True, decorrelate=True)`
/// followed by `to_valid_rgb` (lucent/optvis/param/images.py and color.py):
/// Fourier basis (`FourierImage`) → colour decorrelation (`ColorDecorrelation`, 3 channels
/// only) → sigmoid. The naive parameterisation (`loupe visualize --naive`) is the pixels
/// themselves, kept in [0, 1] by clipping after each step (the textbook method of Simonyan,
/// Vedaldi and Zisserman 2014, with the image kept a valid picture).
public struct ImageParameterization: Sendable {
    public enum Basis: Sendable, Equatable {
        /// Lucent's `fft_image` with the given decay power.
        case fourier(decayPower: Double)
        /// One parameter per pixel, the unit value itself.
        case pixels
    }

    public let channels: Int, height: Int, width: Int
    public let basis: Basis
    /// Colour decorrelation applies (Fourier basis and 3 channels).
    public let decorrelate: Bool
    let fourier: FourierImage?

    public init(channels: Int, height: Int, width: Int, basis: Basis, decorrelate: Bool = true) {
        self.channels = channels; self.height = height; self.width = width
        self.basis = basis
        self.decorrelate = decorrelate && channels == 3 && basis != .pixels
        if case .fourier(let d) = basis {
            fourier = FourierImage(channels: channels, height: height, width: width, decayPower: d)
        } else {
            fourier = nil
        }
    }

    public var parameterCount: Int { fourier?.parameterCount ?? channels * height * width }
    var plane: Int { height * width }

    /// The start: Lucent's random spectrum (normal, sd 0.01: a nearly uniform gray), or for
    /// pixels gray 0.5 plus normal noise of sd 0.01 (Lucent's `pixel_image` sd, around gray).
    public func initialParameters(random: inout VisualizationRandom) -> [Float] {
        if let fourier { return fourier.initialParameters(random: &random) }
        return (0..<parameterCount).map { _ in min(max(0.5 + random.normal() * FourierImage.initialStandardDeviation, 0), 1) }
    }

    /// The parameters whose image is `image` (unit values, [C, H, W]); values are first kept
    /// within [0.01, 0.99] so that the sigmoid can reach them.
    public func parameters(for image: [Float]) -> [Float] {
        guard let fourier else { return image.map { min(max($0, 0), 1) } }
        var z = image.map { v -> Float in let u = min(max(v, 0.01), 0.99); return log(u / (1 - u)) }
        if decorrelate { z = ColorDecorrelation.invert(z, plane: plane) }
        return fourier.parameters(for: z)
    }

    /// The unit image for parameters `p`.
    public func image(_ p: [Float]) -> [Float] {
        guard let fourier else { return p }
        var z = fourier.image(p)
        if decorrelate { z = ColorDecorrelation.apply(z, plane: plane) }
        return z.map { 1 / (1 + exp(-$0)) }
    }

    /// The gradient with respect to `p` for a gradient `g` on `image(p)` (= `y`).
    public func backward(_ g: [Float], image y: [Float]) -> [Float] {
        guard let fourier else { return g }
        var d = [Float](repeating: 0, count: g.count)
        for i in 0..<g.count { d[i] = g[i] * y[i] * (1 - y[i]) }
        if decorrelate { d = ColorDecorrelation.apply(d, plane: plane, transposed: true) }
        return fourier.backward(d)
    }

    /// Keeps the parameters valid after a step: pixels are clipped to [0, 1].
    public func project(_ p: inout [Float]) {
        if fourier == nil { for i in p.indices { p[i] = min(max(p[i], 0), 1) } }
    }
}
