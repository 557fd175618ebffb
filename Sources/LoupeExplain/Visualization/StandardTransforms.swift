import Foundation

/// The random transformation applied to the image before every step, so that the picture must
/// work under small shifts, scalings and rotations (Olah et al., "Feature Visualization",
/// Distill 2017, "transformation robustness"). Lucent's `standard_transforms`
/// (lucent/optvis/transform.py), in order:
///
/// 1. `pad(12, mode="constant", constant_value=0.5)`;
/// 2. `jitter(8)`: a shift by dx, dy drawn from 0..<8, zeros coming in (kornia's `translate`:
///    by d·n/(n − 1) pixels, sub-pixel, see `Warp.korniaAffine`);
/// 3. `random_scale([1 + (i − 5)/50 for i in 0..<11])`: bilinear resize (`align_corners=True`)
///    to ⌈s·H⌉ × ⌈s·W⌉, then zero padding by ⌈(H − ⌈s·H⌉)/2⌉ (at least 0) as Lucent pads it:
///    `F.pad(x, [pad_y, pad_x] * 2)` puts pad_y left and top, pad_x right and bottom;
/// 4. `random_rotate(list(range(-10, 11)) + 5 * [0])`: degrees, 0 five times more likely;
/// 5. `jitter(4)`.
///
/// Lucent then normalises and, when the image is smaller than 224, resizes it to 224 × 224
/// (`render_vis`); `FeatureVisualization` does that resize (to the model's input size) itself.
/// Input: the unit image [C, H, W]; output: a list of `Warp`s whose sizes change with the scale.
public struct StandardTransforms: Sendable {
    public var pad = 12
    public var padValue: Float = 0.5
    public var firstJitter = 8
    public var scales: [Double] = (0..<11).map { 1 + Double($0 - 5) / 50 }
    public var angles: [Double] = (-10...10).map(Double.init) + [Double](repeating: 0, count: 5)
    public var secondJitter = 4

    public init() {}

    /// One draw of the transformation for a C × height × width image.
    public func sample(height: Int, width: Int, random: inout VisualizationRandom) -> [Warp] {
        var warps: [Warp] = []
        var (h, w) = (height, width)
        if pad > 0 {
            warps.append(.pad(height: h, width: w, by: pad, fill: padValue))
            (h, w) = (h + 2 * pad, w + 2 * pad)
        }
        if firstJitter > 1 {
            let (dx, dy) = (random.base.int(firstJitter), random.base.int(firstJitter))
            warps.append(.translate(height: h, width: w, dx: dx, dy: dy))
        }
        if !scales.isEmpty {
            let scaled = Self.scale(height: h, width: w, by: random.choice(scales))
            warps.append(scaled)
            (h, w) = (scaled.outHeight, scaled.outWidth)
        }
        if !angles.isEmpty {
            let a = random.choice(angles)
            if a != 0 { warps.append(.rotate(height: h, width: w, degrees: a)) }
        }
        if secondJitter > 1 {
            let (dx, dy) = (random.base.int(secondJitter), random.base.int(secondJitter))
            warps.append(.translate(height: h, width: w, dx: dx, dy: dy))
        }
        return warps
    }

    /// Lucent's `random_scale` for the drawn scale s: resize to ⌈s·H⌉ × ⌈s·W⌉ (`align_corners=True`),
    /// then `F.pad(x, [pad_y, pad_x] * 2)`: pad_y columns left and rows on top, pad_x columns
    /// right and rows at the bottom, pad_y = max(0, ⌈(H − ⌈s·H⌉)/2⌉), pad_x likewise with W.
    public static func scale(height h: Int, width w: Int, by s: Double) -> Warp {
        let sh = Int((s * Double(h)).rounded(.up)), sw = Int((s * Double(w)).rounded(.up))
        let padX = max(0, Int((Double(w - sw) / 2).rounded(.up)))
        let padY = max(0, Int((Double(h - sh) / 2).rounded(.up)))
        return .resize(height: h, width: w, toHeight: sh, toWidth: sw, top: padY, left: padY,
                       canvasHeight: sh + padY + padX, canvasWidth: sw + padY + padX)
    }
}
