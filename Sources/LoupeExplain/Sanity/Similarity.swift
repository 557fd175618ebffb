import Foundation
import LoupeTensor

/// The similarities of Adebayo et al., "Sanity Checks for Saliency Maps" (NeurIPS 2018), between
/// an explanation map and the map of the same method on a randomised model, defined so that
/// scipy and scikit-image give the same numbers (checked against them by
/// `Scripts/fixtures/make-sanity-fixtures.py` within 1e-4):
///
/// - a map C×H×W (or H×W) becomes two H×W planes: the signed sum over channels and the sum of
///   absolute values over channels;
/// - `spearman`: Spearman's rank correlation of the signed planes (`scipy.stats.spearmanr`:
///   Pearson correlation of the ranks, ties given their average rank); `spearmanAbs`: the same on
///   the absolute planes;
/// - both absolute planes are normalised as Adebayo's code does (`VisualizeImageGrayscale`):
///   (x − min) / (99th percentile − min), clipped to [0, 1] (numpy's linear percentile; a
///   constant plane becomes zeros);
/// - `ssim`: `skimage.metrics.structural_similarity(a, b, data_range=1)` of the normalised
///   planes, with its defaults (7×7 uniform window, K1 = 0.01, K2 = 0.03, sample covariance, the
///   mean over pixels at least 3 from the border);
/// - `hog`: the Pearson correlation of `skimage.feature.hog` features of the normalised planes
///   with its defaults (9 unsigned orientations, 8×8 pixels per cell, 3×3 cells per block,
///   L2-Hys block normalisation), as Adebayo's code compares HOG features.
///
/// A correlation with a constant argument is NaN, as in scipy.
public enum Similarity {
    public struct Scores: Sendable, Equatable {
        public var spearman: Double
        public var spearmanAbs: Double
        public var ssim: Double
        public var hog: Double
        public init(spearman: Double, spearmanAbs: Double, ssim: Double, hog: Double) {
            (self.spearman, self.spearmanAbs, self.ssim, self.hog) = (spearman, spearmanAbs, ssim, hog)
        }
        /// In the order of `names`.
        public var values: [Double] { [spearman, spearmanAbs, ssim, hog] }
        public static let names = ["spearman", "spearman_abs", "ssim", "hog"]
    }

    /// The smallest plane `compare` accepts: HOG needs 3×3 cells of 8×8 pixels.
    public static let minimumSide = 24

    /// Compares two maps of the same shape (C×H×W or H×W).
    public static func compare(_ a: Tensor, _ b: Tensor) throws -> Scores {
        guard a.shape == b.shape else { throw LoupeError.shape("maps of different shapes \(describe(a.shape)) and \(describe(b.shape))") }
        let pa = try planes(a), pb = try planes(b)
        let (h, w) = (pa.height, pa.width)
        let na = normalise(pa.absolute), nb = normalise(pb.absolute)
        return Scores(spearman: spearman(pa.signed, pb.signed), spearmanAbs: spearman(pa.absolute, pb.absolute),
                      ssim: try ssim(na, nb, height: h, width: w),
                      hog: pearson(try hog(na, height: h, width: w), try hog(nb, height: h, width: w)))
    }

    /// The signed and absolute channel sums of a C×H×W or H×W map, row-major H×W.
    public static func planes(_ m: Tensor) throws -> (signed: [Double], absolute: [Double], height: Int, width: Int) {
        guard m.isFloat, m.rank == 2 || m.rank == 3 else {
            throw LoupeError.shape("a map to compare must be C×H×W or H×W, got \(describe(m.shape))")
        }
        let h = m.shape[m.rank - 2], w = m.shape[m.rank - 1], c = m.rank == 3 ? m.shape[0] : 1
        guard h >= minimumSide, w >= minimumSide else {
            throw LoupeError.shape("maps of \(h)×\(w) are too small to compare: HOG needs at least \(minimumSide)×\(minimumSide)")
        }
        var s = [Double](repeating: 0, count: h * w), a = s
        let f = m.floats
        for k in 0..<c {
            for i in 0..<(h * w) {
                let v = Double(f[k * h * w + i])
                s[i] += v
                a[i] += abs(v)
            }
        }
        return (s, a, h, w)
    }

    /// (x − min) / (99th percentile − min), clipped to [0, 1]; zeros for a constant plane.
    public static func normalise(_ x: [Double]) -> [Double] {
        guard let lo = x.min() else { return [] }
        let hi = percentile(x, 99)
        guard hi > lo else { return [Double](repeating: 0, count: x.count) }
        return x.map { min(max(($0 - lo) / (hi - lo), 0), 1) }
    }

    /// numpy's `percentile(x, q)` with its default linear interpolation.
    public static func percentile(_ x: [Double], _ q: Double) -> Double {
        let v = x.sorted()
        let pos = q / 100 * Double(v.count - 1)
        let lo = Int(pos.rounded(.down)), hi = min(lo + 1, v.count - 1)
        let t = pos - Double(lo)
        return t >= 0.5 ? v[hi] - (v[hi] - v[lo]) * (1 - t) : v[lo] + (v[hi] - v[lo]) * t
    }

    /// Ranks from 1, ties given their average rank (`scipy.stats.rankdata`'s default).
    public static func ranks(_ x: [Double]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] || (x[$0] == x[$1] && $0 < $1) }
        var r = [Double](repeating: 0, count: x.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && x[order[j + 1]] == x[order[i]] { j += 1 }
            let avg = Double(i + j) / 2 + 1
            for k in i...j { r[order[k]] = avg }
            i = j + 1
        }
        return r
    }

    public static func spearman(_ a: [Double], _ b: [Double]) -> Double { pearson(ranks(a), ranks(b)) }

    /// Pearson's correlation; NaN when either argument is constant.
    public static func pearson(_ a: [Double], _ b: [Double]) -> Double {
        let n = Double(a.count)
        let ma = a.reduce(0, +) / n, mb = b.reduce(0, +) / n
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for i in a.indices {
            let x = a[i] - ma, y = b[i] - mb
            sab += x * y; saa += x * x; sbb += y * y
        }
        guard saa > 0, sbb > 0 else { return .nan }
        return max(-1, min(1, sab / (saa * sbb).squareRoot()))
    }

    /// skimage's `structural_similarity(a, b, data_range=1)` with its defaults, for H×W planes.
    public static func ssim(_ a: [Double], _ b: [Double], height h: Int, width w: Int) throws -> Double {
        let win = 7, pad = (win - 1) / 2
        guard h >= win, w >= win else { throw LoupeError.shape("SSIM needs maps of at least 7×7, got \(h)×\(w)") }
        let np = Double(win * win), covNorm = np / (np - 1)
        let c1 = 0.01 * 0.01, c2 = 0.03 * 0.03
        var total = 0.0
        for r in pad..<(h - pad) {
            for c in pad..<(w - pad) {
                var sx = 0.0, sy = 0.0, sxx = 0.0, syy = 0.0, sxy = 0.0
                for i in (r - pad)...(r + pad) {
                    for j in (c - pad)...(c + pad) {
                        let x = a[i * w + j], y = b[i * w + j]
                        sx += x; sy += y; sxx += x * x; syy += y * y; sxy += x * y
                    }
                }
                let ux = sx / np, uy = sy / np
                let vx = covNorm * (sxx / np - ux * ux), vy = covNorm * (syy / np - uy * uy)
                let vxy = covNorm * (sxy / np - ux * uy)
                total += ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
            }
        }
        return total / Double((h - 2 * pad) * (w - 2 * pad))
    }

    /// skimage's `feature.hog(x)` with its defaults for an H×W plane: central-difference
    /// gradients (zero on the border rows and columns), unsigned orientations in [0, 180) binned
    /// into 9 bins of 20° (no interpolation), magnitudes averaged per 8×8 cell, 3×3-cell blocks
    /// normalised by L2-Hys (eps 1e-5, clip 0.2), features ordered
    /// [block row, block column, cell row, cell column, orientation].
    public static func hog(_ x: [Double], height h: Int, width w: Int) throws -> [Double] {
        let cell = 8, block = 3, bins = 9
        let cellsR = h / cell, cellsC = w / cell
        guard cellsR >= block, cellsC >= block else { throw LoupeError.shape("HOG needs maps of at least 24×24, got \(h)×\(w)") }
        var mag = [Double](repeating: 0, count: h * w), ori = mag
        for r in 0..<h {
            for c in 0..<w {
                let gr = r > 0 && r < h - 1 ? x[(r + 1) * w + c] - x[(r - 1) * w + c] : 0
                let gc = c > 0 && c < w - 1 ? x[r * w + c + 1] - x[r * w + c - 1] : 0
                mag[r * w + c] = (gc * gc + gr * gr).squareRoot()
                var o = fmod(atan2(gr, gc) * (180 / Double.pi), 180)   // Python's % : the sign of the divisor
                if o != 0 && o < 0 { o += 180 }
                ori[r * w + c] = o
            }
        }
        let per = 180.0 / Double(bins)
        var hist = [Double](repeating: 0, count: cellsR * cellsC * bins)
        for cr in 0..<cellsR {
            for cc in 0..<cellsC {
                for i in 0..<bins {
                    let start = per * Double(i + 1), end = per * Double(i)
                    var total = 0.0
                    for r in (cr * cell)..<((cr + 1) * cell) {
                        for c in (cc * cell)..<((cc + 1) * cell) {
                            let o = ori[r * w + c]
                            if o >= start || o < end { continue }
                            total += mag[r * w + c]
                        }
                    }
                    hist[(cr * cellsC + cc) * bins + i] = total / Double(cell * cell)
                }
            }
        }
        let eps = 1e-5
        var out: [Double] = []
        out.reserveCapacity((cellsR - block + 1) * (cellsC - block + 1) * block * block * bins)
        for br in 0...(cellsR - block) {
            for bc in 0...(cellsC - block) {
                var v: [Double] = []
                for r in br..<(br + block) {
                    for c in bc..<(bc + block) { v += hist[((r * cellsC + c) * bins)..<((r * cellsC + c + 1) * bins)] }
                }
                let n1 = (v.reduce(0) { $0 + $1 * $1 } + eps * eps).squareRoot()
                v = v.map { min($0 / n1, 0.2) }
                let n2 = (v.reduce(0) { $0 + $1 * $1 } + eps * eps).squareRoot()
                out += v.map { $0 / n2 }
            }
        }
        return out
    }
}
