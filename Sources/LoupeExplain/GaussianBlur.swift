import Foundation
import LoupeGraph
import LoupeTensor

/// The Gaussian blur of `torchvision.transforms.functional.gaussian_blur`, for the blurred
/// baseline of Integrated Gradients (Sturmfels, Lundberg and Lee, "Visualizing the Impact of
/// Feature Attribution Baselines", Distill 2020).
///
/// Kernel size k = 2·⌈3σ⌉ + 1, taps exp(−t²/(2σ²)) at t = −(k−1)/2 … (k−1)/2 normalised to sum
/// 1, applied along H and then W to every channel of [N, C, H, W] with reflect padding
/// (torch's "reflect": the edge is not repeated). Sums in float64.
public enum GaussianBlur {
    public static func apply(_ x: Tensor, sigma: Double) throws -> Tensor {
        guard x.rank == 4 else { throw LoupeError.shape("blur needs an NCHW tensor, got \(describe(x.shape))") }
        guard sigma > 0, sigma.isFinite else { throw LoupeError(.invalidArgument, "the blur's sigma must be positive, got \(sigma)") }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let half = Int((3 * sigma).rounded(.up))
        guard half < h, half < w else {
            throw LoupeError(.invalidArgument, "a blur of sigma \(sigma) needs a kernel of \(2 * half + 1) pixels, which reflect padding cannot fit in the \(h)x\(w) input; choose sigma below \(Double(min(h, w) - 1) / 3)")
        }
        var taps = (0...(2 * half)).map { i -> Double in let t = Double(i - half) / sigma; return exp(-0.5 * t * t) }
        let total = taps.reduce(0, +)
        taps = taps.map { $0 / total }
        func reflect(_ i: Int, _ size: Int) -> Int { i < 0 ? -i : (i >= size ? 2 * (size - 1) - i : i) }
        let src = x.floats
        var out = [Float](repeating: 0, count: x.count)
        var rows = [Double](repeating: 0, count: h * w)
        for p in 0..<(n * c) {
            let base = p * h * w
            for y in 0..<h {
                for xx in 0..<w {
                    var s = 0.0
                    for (j, t) in taps.enumerated() { s += t * Double(src[base + reflect(y + j - half, h) * w + xx]) }
                    rows[y * w + xx] = s
                }
            }
            for y in 0..<h {
                for xx in 0..<w {
                    var s = 0.0
                    for (j, t) in taps.enumerated() { s += t * rows[y * w + reflect(xx + j - half, w)] }
                    out[base + y * w + xx] = Float(s)
                }
            }
        }
        return Tensor(shape: x.shape, floats: out)
    }
}
