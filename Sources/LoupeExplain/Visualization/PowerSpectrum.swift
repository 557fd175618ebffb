import Foundation
import LoupeTensor

/// How fast an image's power falls with spatial frequency: the log-log slope of its radially
/// averaged power spectrum. Natural images fall as about 1/f² (slope −2; van der Schaaf and van
/// Hateren, "Modelling the power spectra of natural images", Vision Research 1996), white noise
/// is flat (slope 0). Feature visualisation uses it to compare methods (issue 16): Lucent's
/// 1/f Fourier parameterisation gives steep spectra, plain gradient ascent flatter ones.
///
/// The measurement: the channel mean of the unit image [C, H, W], minus its own mean (so a
/// uniform start contributes nothing); its 2-D DFT (in Double); the power |F|² averaged over the
/// frequencies whose radius √(ky² + kx²) (signed integer frequencies, cycles per image) rounds
/// to r, for r = 1 … ⌊H/2⌋ − 1 (about 1/H to 1/2 cycles per pixel along the rows); the
/// least-squares slope of log power against log r. numpy's `np.fft.fft2` gives the same
/// (Scripts/fixtures/make-spectrum-fixture.py).
public enum PowerSpectrum {
    /// Radially averaged power for radii 0 ..< H (empty bins hold 0, counts 0).
    public static func radialPower(_ u: Tensor) -> (power: [Double], counts: [Int]) {
        let (c, h, w) = (u.shape[0], u.shape[1], u.shape[2])
        var g = [Double](repeating: 0, count: h * w)
        for k in 0..<c { for i in 0..<h * w { g[i] += Double(u.floats[k * h * w + i]) / Double(c) } }
        let mean = g.reduce(0, +) / Double(g.count)
        g = g.map { $0 - mean }
        // Separable DFT: rows, then columns.
        var re = [Double](repeating: 0, count: h * w), im = re
        for y in 0..<h { for kx in 0..<w {
            var a = 0.0, b = 0.0
            for x in 0..<w { let t = -2 * Double.pi * Double(kx * x) / Double(w); a += g[y * w + x] * cos(t); b += g[y * w + x] * sin(t) }
            re[y * w + kx] = a; im[y * w + kx] = b
        } }
        var bins = [Double](repeating: 0, count: h), counts = [Int](repeating: 0, count: h)
        for ky in 0..<h { for kx in 0..<w {
            var a = 0.0, b = 0.0
            for y in 0..<h {
                let t = -2 * Double.pi * Double(ky * y) / Double(h)
                a += re[y * w + kx] * cos(t) - im[y * w + kx] * sin(t)
                b += re[y * w + kx] * sin(t) + im[y * w + kx] * cos(t)
            }
            let fy = Double(ky <= h / 2 ? ky : ky - h), fx = Double(kx <= w / 2 ? kx : kx - w)
            let r = Int((fy * fy + fx * fx).squareRoot().rounded())
            if r < h { bins[r] += a * a + b * b; counts[r] += 1 }
        } }
        return (zip(bins, counts).map { $1 > 0 ? $0 / Double($1) : 0 }, counts)
    }

    /// The log-log slope over radii 1 … ⌊H/2⌋ − 1 (needs H ≥ 6).
    public static func slope(_ u: Tensor) -> Double {
        let h = u.shape[1]
        let (power, _) = radialPower(u)
        let pts = (1..<(h / 2)).map { (log(Double($0)), log(power[$0])) }
        let mx = pts.map(\.0).reduce(0, +) / Double(pts.count), my = pts.map(\.1).reduce(0, +) / Double(pts.count)
        return pts.reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) } / pts.reduce(0) { $0 + ($1.0 - mx) * ($1.0 - mx) }
    }
}
