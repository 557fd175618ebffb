import Foundation
import LoupeTensor

/// How the optimised parameters become an image in the unit range, [C, H, W] with values in
/// [0, 1] (RGB order for 3 channels): Lucent's `param.image(w, h, fft=True, decorrelate=True)`
/// followed by `to_valid_rgb` (lucent/optvis/param/images.py and color.py):
/// Fourier basis (`FourierImage`) → colour decorrelation (`ColorDecorrelation`, 3 channels
/// only) → sigmoid. (`loupe visualize --naive` optimises the model's input values directly,
/// without a parameterisation: `GradientAscent`.)
public struct ImageParameterization: Sendable {
    public enum Basis: Sendable, Equatable {
        /// Lucent's `fft_image` with the given decay power.
        case fourier(decayPower: Double)
    }

    public let channels: Int, height: Int, width: Int
    public let basis: Basis
    /// Colour decorrelation applies (3 channels).
    public let decorrelate: Bool
    let fourier: FourierImage

    public init(channels: Int, height: Int, width: Int, basis: Basis, decorrelate: Bool = true) {
        self.channels = channels; self.height = height; self.width = width
        self.basis = basis
        self.decorrelate = decorrelate && channels == 3
        switch basis {
        case .fourier(let d): fourier = FourierImage(channels: channels, height: height, width: width, decayPower: d)
        }
    }

    public var parameterCount: Int { fourier.parameterCount }
    var plane: Int { height * width }

    /// The start: Lucent's random spectrum (normal, sd 0.01: a nearly uniform gray).
    public func initialParameters(random: inout VisualizationRandom) -> [Float] {
        fourier.initialParameters(random: &random)
    }

    /// The parameters whose image is `image` (unit values, [C, H, W]); values are first kept
    /// within [0.01, 0.99] so that the sigmoid can reach them.
    public func parameters(for image: [Float]) -> [Float] {
        var z = image.map { v -> Float in let u = min(max(v, 0.01), 0.99); return log(u / (1 - u)) }
        if decorrelate { z = ColorDecorrelation.invert(z, plane: plane) }
        return fourier.parameters(for: z)
    }

    /// The unit image for parameters `p`.
    public func image(_ p: [Float]) -> [Float] {
        var z = fourier.image(p)
        if decorrelate { z = ColorDecorrelation.apply(z, plane: plane) }
        return z.map { 1 / (1 + exp(-$0)) }
    }

    /// The gradient with respect to `p` for a gradient `g` on `image(p)` (= `y`).
    public func backward(_ g: [Float], image y: [Float]) -> [Float] {
        var d = [Float](repeating: 0, count: g.count)
        for i in 0..<g.count { d[i] = g[i] * y[i] * (1 - y[i]) }
        if decorrelate { d = ColorDecorrelation.apply(d, plane: plane, transposed: true) }
        return fourier.backward(d)
    }
}
