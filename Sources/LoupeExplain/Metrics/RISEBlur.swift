import Foundation
import LoupeTensor

/// The blurred image insertion starts from, exactly as RISE's `evaluation.py` makes it
/// (Petsiuk, Das and Saenko, "RISE: Randomized Input Sampling for Explanation of Black-box
/// Models", BMVC 2018): `gkern(11, 5)` applied to each channel by a convolution with zero
/// padding 5.
///
/// `gkern(klen, nsig)` is scipy's `gaussian_filter(dirac, nsig)` of an 11×11 array holding a
/// centred 1: a Gaussian of σ = 5 truncated at 4σ (radius 20, taps exp(−t²/2σ²) normalised
/// over −20…20), applied along each axis with scipy's "reflect" boundary (d c b a | a b c d).
/// The tails beyond ±5 fold back into the 11 taps, so the kernel is not a sampled Gaussian:
/// it is the outer product of the 1-D taps `taps` below, which sum to 1. Sums in float64.
public enum RISEBlur {
    public static let size = 11
    public static let sigma = 5.0

    /// The 11 1-D taps of RISE's kernel (its rows and columns).
    public static let taps: [Double] = {
        let radius = Int(4 * sigma + 0.5)
        var w = (-radius...radius).map { exp(-0.5 * Double($0 * $0) / (sigma * sigma)) }
        let total = w.reduce(0, +)
        w = w.map { $0 / total }
        let n = size, centre = size / 2
        // Output i of the 1-D filter of a dirac at `centre` sums the weights of the offsets
        // t whose reflected source index i + t is the centre.
        func reflect(_ j: Int) -> Int {
            let m = ((j % (2 * n)) + 2 * n) % (2 * n)
            return m < n ? m : 2 * n - 1 - m
        }
        return (0..<n).map { i in
            (-radius...radius).reduce(0.0) { s, t in reflect(i + t) == centre ? s + w[t + radius] : s }
        }
    }()

    /// The blurred copy of `x` [N, C, H, W]: each channel convolved with the 11×11 kernel,
    /// outside the image counting as zero.
    public static func apply(_ x: Tensor) throws -> Tensor {
        guard x.rank == 4 else { throw LoupeError.shape("the RISE blur needs an NCHW tensor, got \(describe(x.shape))") }
        let (h, w) = (x.shape[2], x.shape[3])
        let k = taps, half = size / 2
        let src = x.floats
        var out = [Float](repeating: 0, count: x.count)
        var rows = [Double](repeating: 0, count: h * w)
        for p in 0..<(x.shape[0] * x.shape[1]) {
            let base = p * h * w
            for y in 0..<h {
                for xx in 0..<w {
                    var s = 0.0
                    for j in 0..<size {
                        let yy = y + j - half
                        if yy >= 0 && yy < h { s += k[j] * Double(src[base + yy * w + xx]) }
                    }
                    rows[y * w + xx] = s
                }
            }
            for y in 0..<h {
                for xx in 0..<w {
                    var s = 0.0
                    for j in 0..<size {
                        let q = xx + j - half
                        if q >= 0 && q < w { s += k[j] * rows[y * w + q] }
                    }
                    out[base + y * w + xx] = Float(s)
                }
            }
        }
        return Tensor(shape: x.shape, floats: out)
    }
}
