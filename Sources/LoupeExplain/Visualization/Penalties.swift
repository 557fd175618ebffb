/// Optional regularisers on the unit image u [C, H, W], subtracted from the objective with
/// their weights (all 0 by default, as in Lucent's `render_vis`, which adds none):
///
/// - `l2`: Σ (u − 0.5)², after Simonyan, Vedaldi and Zisserman 2014's L2 decay (their λ‖I‖² on
///   the mean-subtracted image; here around mid-gray). `--naive` applies its weight as the
///   paper does, to the model's input values (`GradientAscent`), not through this function.
/// - `totalVariation`: Σ |u[y, x+1] − u[y, x]| + |u[y+1, x] − u[y, x]|, Lucid's
///   `objectives.total_variation` (TensorFlow's `tf.image.total_variation`); Mahendran and
///   Vedaldi 2015.
/// - `blur`: Lucent's `blur_input_each_step` (lucent/optvis/objectives.py, Nguyen et al. 2015):
///   0.5·Σ (u − b)² with b the 3×3 blur of u (centre weight 1, the rest 0.5, divided by the
///   weights inside the image) held fixed, so its gradient step moves u towards b.
public struct Penalties: Sendable, Equatable {
    public var l2: Float = 0
    public var totalVariation: Float = 0
    public var blur: Float = 0
    public init(l2: Float = 0, totalVariation: Float = 0, blur: Float = 0) {
        self.l2 = l2; self.totalVariation = totalVariation; self.blur = blur
    }

    public var isEmpty: Bool { l2 == 0 && totalVariation == 0 && blur == 0 }

    /// The weighted penalty and its gradient with respect to u.
    public func evaluate(_ u: [Float], channels: Int, height: Int, width: Int) -> (value: Double, gradient: [Float]) {
        var value: Double = 0
        var g = [Float](repeating: 0, count: u.count)
        if isEmpty { return (0, g) }
        let plane = height * width
        if l2 != 0 {
            for i in u.indices {
                let d = u[i] - 0.5
                value += Double(l2 * d * d)
                g[i] += 2 * l2 * d
            }
        }
        if totalVariation != 0 {
            for c in 0..<channels {
                let o = c * plane
                for y in 0..<height {
                    for x in 0..<width {
                        let i = o + y * width + x
                        if x + 1 < width {
                            let d = u[i + 1] - u[i]
                            value += Double(totalVariation * abs(d))
                            let s: Float = d > 0 ? 1 : (d < 0 ? -1 : 0)
                            g[i + 1] += totalVariation * s; g[i] -= totalVariation * s
                        }
                        if y + 1 < height {
                            let d = u[i + width] - u[i]
                            value += Double(totalVariation * abs(d))
                            let s: Float = d > 0 ? 1 : (d < 0 ? -1 : 0)
                            g[i + width] += totalVariation * s; g[i] -= totalVariation * s
                        }
                    }
                }
            }
        }
        if blur != 0 {
            let b = Self.blurred(u, channels: channels, height: height, width: width)
            for i in u.indices {
                let d = u[i] - b[i]
                value += Double(blur * 0.5 * d * d)
                g[i] += blur * d
            }
        }
        return (value, g)
    }

    /// Lucent's `_torch_blur`: 3×3, weight 1 at the centre and 0.5 around, normalised by the
    /// weights that fall inside the image.
    static func blurred(_ u: [Float], channels: Int, height: Int, width: Int) -> [Float] {
        var out = [Float](repeating: 0, count: u.count)
        let plane = height * width
        for c in 0..<channels {
            for y in 0..<height {
                for x in 0..<width {
                    var s: Float = 0, n: Float = 0
                    for dy in -1...1 {
                        for dx in -1...1 {
                            let (yy, xx) = (y + dy, x + dx)
                            guard yy >= 0, yy < height, xx >= 0, xx < width else { continue }
                            let w: Float = dy == 0 && dx == 0 ? 1 : 0.5
                            s += w * u[c * plane + yy * width + xx]; n += w
                        }
                    }
                    out[c * plane + y * width + x] = s / n
                }
            }
        }
        return out
    }
}
