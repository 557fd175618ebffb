/// Decorrelated colour: the image's three channels are a fixed linear mix of three
/// uncorrelated components, so that a gradient step moves colours as natural images vary
/// them. Lucent's `_linear_decorrelate_color` (lucent/optvis/param/color.py, from Lucid's
/// lucid/optvis/param/color.py): the square root of ImageNet's colour correlation matrix
/// (`color_correlation_svd_sqrt`) divided by its largest column norm (`max_norm_svd_sqrt`).
///
/// Acts on [3, H, W] in RGB order: out[c] = Σ_j M[c][j] · in[j] (Lucent multiplies the
/// channels-last image by Mᵀ). Only defined for 3 channels: gray and other channel counts use
/// the identity (Lucent's `image(..., channels=k)` skips decorrelation too).
public enum ColorDecorrelation {
    /// Lucid's `color_correlation_svd_sqrt`, row-major 3×3.
    public static let svdSqrt: [Float] = [0.26, 0.09, 0.02,
                                          0.27, 0.00, -0.05,
                                          0.27, -0.09, 0.03]

    /// `svdSqrt` divided by the largest Euclidean norm of its columns (`np.max(np.linalg.norm(M, axis=0))`).
    public static let matrix: [Float] = {
        let norms = (0..<3).map { j in (0..<3).map { i in Double(svdSqrt[i * 3 + j]) * Double(svdSqrt[i * 3 + j]) }.reduce(0, +).squareRoot() }
        let m = norms.max()!
        return svdSqrt.map { Float(Double($0) / m) }
    }()

    /// M·x per pixel (or Mᵀ·x with `transposed`, the adjoint) for x = [3, plane].
    public static func apply(_ x: [Float], plane: Int, transposed: Bool = false) -> [Float] {
        mix(x, plane: plane, matrix: transposed ? transpose(matrix) : matrix)
    }

    /// M⁻¹·x per pixel: the components that give the image x.
    public static func invert(_ x: [Float], plane: Int) -> [Float] {
        mix(x, plane: plane, matrix: inverse(matrix))
    }

    static func mix(_ x: [Float], plane: Int, matrix m: [Float]) -> [Float] {
        precondition(x.count == 3 * plane, "colour decorrelation needs 3 channels")
        var out = [Float](repeating: 0, count: x.count)
        for i in 0..<plane {
            let (a, b, c) = (x[i], x[plane + i], x[2 * plane + i])
            for r in 0..<3 { out[r * plane + i] = m[r * 3] * a + m[r * 3 + 1] * b + m[r * 3 + 2] * c }
        }
        return out
    }

    static func transpose(_ m: [Float]) -> [Float] { (0..<9).map { m[($0 % 3) * 3 + $0 / 3] } }

    static func inverse(_ m: [Float]) -> [Float] {
        let a = m.map(Double.init)
        let det = a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) + a[2] * (a[3] * a[7] - a[4] * a[6])
        let adj: [Double] = [
            a[4] * a[8] - a[5] * a[7], a[2] * a[7] - a[1] * a[8], a[1] * a[5] - a[2] * a[4],
            a[5] * a[6] - a[3] * a[8], a[0] * a[8] - a[2] * a[6], a[2] * a[3] - a[0] * a[5],
            a[3] * a[7] - a[4] * a[6], a[1] * a[6] - a[0] * a[7], a[0] * a[4] - a[1] * a[3],
        ]
        return adj.map { Float($0 / det) }
    }
}
