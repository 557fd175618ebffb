import Foundation
import LoupeTensor

/// An image parameterised by its Fourier spectrum with 1/f amplitude scaling: Lucent's
/// `fft_image` (lucent/optvis/param/spatial.py, after Lucid's lucid/optvis/param/spatial.py;
/// Olah, Mordvintsev and Schubert, "Feature Visualization", Distill 2017, section
/// "Preconditioning and Parameterization").
///
/// Parameters: for each of C channels the real and imaginary parts of the half spectrum of
/// `numpy.fft.rfft2`, H × (W/2 + 1) each, stored [C, 2, H, W/2 + 1] (Lucent: [1, C, H, W/2 + 1, 2];
/// for odd W Lucent keeps one more column that `irfftn` drops, Loupe does not store it).
/// Image: x = irfft2(s ⊙ p, norm "ortho") / 4 as [C, H, W], with
/// s(f) = 1 / max(f, 1/max(H, W))^decayPower, f = √(fx² + fy²) the frequency of each
/// coefficient in cycles per pixel (`rfft2d_freqs`), decay power 1 and the divisor 4
/// (Lucid's "magic" constant) as in Lucent. Low frequencies thus move fastest under a
/// gradient step, which is what makes the pictures smooth.
///
/// The inverse transform is separable: a complex DFT along H, then the real (c2r) DFT along W,
/// both as matrix products through LoupeTensor's `sgemm` (`DFTMatrices`); the backward pass is
/// the exact adjoint of that linear map, the forward transform (`parameters(for:)`) its inverse.
public struct FourierImage: Sendable {
    public let channels: Int, height: Int, width: Int
    /// W/2 + 1: the stored half spectrum's width.
    public let frequencyWidth: Int
    /// s as [H, W/2 + 1].
    public let scale: [Float]
    /// Lucid's and Lucent's divisor of the image ("magic = 4.0").
    public static let magic: Float = 4
    /// Lucent's initial spectrum standard deviation (`sd = sd or 0.01`).
    public static let initialStandardDeviation: Float = 0.01
    let rows: DFTMatrices, cols: DFTMatrices

    /// `decayPower`: Lucent's `decay_power` (default 1).
    public init(channels: Int, height: Int, width: Int, decayPower: Double = 1) {
        self.channels = channels; self.height = height; self.width = width
        frequencyWidth = width / 2 + 1
        let floor = 1 / Double(max(width, height))
        var s = [Float](repeating: 0, count: height * frequencyWidth)
        for k in 0..<height {
            // numpy.fft.fftfreq(H): 0, 1, …, ⌈H/2⌉ − 1, −⌊H/2⌋, …, −1, divided by H.
            let fy = Double(k < (height + 1) / 2 ? k : k - height) / Double(height)
            for l in 0..<frequencyWidth {
                let fx = Double(l) / Double(width)
                s[k * frequencyWidth + l] = Float(1 / pow(max((fx * fx + fy * fy).squareRoot(), floor), decayPower))
            }
        }
        scale = s
        rows = DFTMatrices(height)
        cols = DFTMatrices(width)
    }

    public var parameterCount: Int { channels * 2 * height * frequencyWidth }

    /// Lucent's start: every spectrum value normal with standard deviation `sd`.
    public func initialParameters(sd: Float = FourierImage.initialStandardDeviation, random: inout VisualizationRandom) -> [Float] {
        (0..<parameterCount).map { _ in random.normal() * sd }
    }

    /// The image [C, H, W] (flat) for parameters `p`.
    public func image(_ p: [Float]) -> [Float] {
        let (h, w, f) = (height, width, frequencyWidth)
        let plane = h * f
        var out = [Float](repeating: 0, count: channels * h * w)
        var xr = [Float](repeating: 0, count: plane), xi = xr, yr = xr, yi = xr, img = [Float](repeating: 0, count: h * w)
        for c in 0..<channels {
            let base = c * 2 * plane
            for i in 0..<plane { xr[i] = scale[i] * p[base + i]; xi[i] = scale[i] * p[base + plane + i] }
            // Along H (complex, inverse): Y = (C + iS)(Xr + iXi).
            gemm(rows.cos, xr, into: &yr, m: h, n: f, k: h)
            gemm(rows.sin, xi, into: &yr, m: h, n: f, k: h, alpha: -1, beta: 1)
            gemm(rows.sin, xr, into: &yi, m: h, n: f, k: h)
            gemm(rows.cos, xi, into: &yi, m: h, n: f, k: h, beta: 1)
            // Along W (c2r): x = Yr·A − Yi·B, then / magic.
            gemm(yr, cols.c2rCos, into: &img, m: h, n: w, k: f, alpha: 1 / Self.magic)
            gemm(yi, cols.c2rSin, into: &img, m: h, n: w, k: f, alpha: -1 / Self.magic, beta: 1)
            out.replaceSubrange(c * h * w ..< (c + 1) * h * w, with: img)
        }
        return out
    }

    /// The gradient with respect to the parameters for a gradient `g` [C, H, W] on the image:
    /// the adjoint (transpose) of `image`.
    public func backward(_ g: [Float]) -> [Float] {
        let (h, w, f) = (height, width, frequencyWidth)
        let plane = h * f
        var out = [Float](repeating: 0, count: parameterCount)
        var dyr = [Float](repeating: 0, count: plane), dyi = dyr, dxr = dyr, dxi = dyr
        for c in 0..<channels {
            let gc = Array(g[c * h * w ..< (c + 1) * h * w])
            gemm(gc, cols.c2rCos, into: &dyr, m: h, n: f, k: w, transB: true, alpha: 1 / Self.magic)
            gemm(gc, cols.c2rSin, into: &dyi, m: h, n: f, k: w, transB: true, alpha: -1 / Self.magic)
            // C and S are symmetric: their transposes are themselves.
            gemm(rows.cos, dyr, into: &dxr, m: h, n: f, k: h)
            gemm(rows.sin, dyi, into: &dxr, m: h, n: f, k: h, beta: 1)
            gemm(rows.cos, dyi, into: &dxi, m: h, n: f, k: h)
            gemm(rows.sin, dyr, into: &dxi, m: h, n: f, k: h, alpha: -1, beta: 1)
            let base = c * 2 * plane
            for i in 0..<plane { out[base + i] = scale[i] * dxr[i]; out[base + plane + i] = scale[i] * dxi[i] }
        }
        return out
    }

    /// The parameters whose image is `x` [C, H, W]: rfft2 with norm "ortho", times 4, divided
    /// by s (for `--start IMAGE`); `image(parameters(for: x)) ≈ x`.
    public func parameters(for x: [Float]) -> [Float] {
        let (h, w, f) = (height, width, frequencyWidth)
        let plane = h * f
        var out = [Float](repeating: 0, count: parameterCount)
        var zr = [Float](repeating: 0, count: plane), zi = zr, xr = zr, xi = zr
        for c in 0..<channels {
            let xc = Array(x[c * h * w ..< (c + 1) * h * w])
            // Along W: Z = x·(cos − i sin).
            gemm(xc, cols.r2cCos, into: &zr, m: h, n: f, k: w, alpha: Self.magic)
            gemm(xc, cols.r2cSin, into: &zi, m: h, n: f, k: w, alpha: -Self.magic)
            // Along H: X = (C − iS)·Z.
            gemm(rows.cos, zr, into: &xr, m: h, n: f, k: h)
            gemm(rows.sin, zi, into: &xr, m: h, n: f, k: h, beta: 1)
            gemm(rows.cos, zi, into: &xi, m: h, n: f, k: h)
            gemm(rows.sin, zr, into: &xi, m: h, n: f, k: h, alpha: -1, beta: 1)
            let base = c * 2 * plane
            for i in 0..<plane { out[base + i] = xr[i] / scale[i]; out[base + plane + i] = xi[i] / scale[i] }
        }
        return out
    }
}
