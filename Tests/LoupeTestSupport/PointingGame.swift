import Foundation
import LoupeFormats
import LoupeTensor

/// The pointing game (Zhang et al., "Top-down Neural Attention by Excitation Backprop", ECCV
/// 2016, without their 15-pixel tolerance) on the annotated shapes test set
/// (SampleModels/shapes/test, made by SampleModels/shapes/make_dataset.py): each image holds
/// one object whose bounding box is recorded; an explanation hits when its map's maximum,
/// upsampled bilinearly to the image as `loupe explain` draws it, falls inside the box.
public enum PointingGame {
    public struct Box: Sendable {
        public var x0, y0, x1, y1: Int  // x1, y1 exclusive
        public func contains(y: Int, x: Int) -> Bool { x >= x0 && x < x1 && y >= y0 && y < y1 }
        public var area: Int { (x1 - x0) * (y1 - y0) }
    }

    public struct Annotation: Sendable {
        public var file: String
        public var label: Int
        public var box: Box
    }

    /// The entries of `dir/annotations.json`, in its order.
    public static func annotations(_ dir: URL) throws -> [Annotation] {
        struct Item: Decodable { var file: String; var label: Int; var box: [Int] }
        struct Doc: Decodable { var images: [Item] }
        let doc = try JSONDecoder().decode(Doc.self, from: Data(contentsOf: dir.appendingPathComponent("annotations.json")))
        return doc.images.map { Annotation(file: $0.file, label: $0.label, box: Box(x0: $0.box[0], y0: $0.box[1], x1: $0.box[2], y1: $0.box[3])) }
    }

    /// Bilinear resize of the last two axes of `m` to `height × width`, with half-pixel
    /// centres (align_corners=False), the convention of LoupeRender's `Resample.bilinear`.
    public static func upsample(_ m: Tensor, to height: Int, _ width: Int) -> [Float] {
        let h = m.shape[m.rank - 2], w = m.shape[m.rank - 1]
        func taps(_ n: Int, _ src: Int) -> [(Int, Int, Float)] {
            let scale = Float(src) / Float(n)
            return (0..<n).map { d in
                let s = max(scale * (Float(d) + 0.5) - 0.5, 0)
                let i = min(Int(s), src - 1)
                return (i, min(i + 1, src - 1), min(max(s - Float(i), 0), 1))
            }
        }
        let ys = taps(height, h), xs = taps(width, w), v = m.floats
        var out = [Float](repeating: 0, count: height * width)
        for (oy, (y0, y1, ly)) in ys.enumerated() {
            for (ox, (x0, x1, lx)) in xs.enumerated() {
                let top = (1 - lx) * v[y0 * w + x0] + lx * v[y0 * w + x1]
                let bottom = (1 - lx) * v[y1 * w + x0] + lx * v[y1 * w + x1]
                out[oy * width + ox] = (1 - ly) * top + ly * bottom
            }
        }
        return out
    }

    /// The location of the maximum of a `? × width` map; tied maxima (occlusion's map is
    /// constant on each stride cell) count at their centroid.
    public static func peak(_ map: [Float], _ width: Int) -> (y: Int, x: Int) {
        let top = map.max()!
        var sy = 0, sx = 0, n = 0
        for (i, v) in map.enumerated() where v == top {
            sy += i / width
            sx += i % width
            n += 1
        }
        return (sy / n, sx / n)
    }

    /// Whether the peak of `map`, upsampled to `height × width`, lies in `box`.
    public static func hits(_ map: Tensor, _ box: Box, height: Int, width: Int) -> Bool {
        let p = peak(upsample(map, to: height, width), width)
        return box.contains(y: p.y, x: p.x)
    }

    /// The share of `items` for which `hit` holds; prints it, with the misses, under `what`.
    public static func rate<T>(_ what: String, _ items: [T], name: (T) -> String, _ hit: (T) throws -> Bool) rethrows -> Double {
        var hits = 0, misses: [String] = []
        for s in items {
            if try hit(s) { hits += 1 } else { misses.append(name(s)) }
        }
        let r = Double(hits) / Double(items.count)
        print(String(format: "  %@: %d/%d = %.1f %%", what, hits, items.count, 100 * r)
              + (misses.isEmpty ? "" : "; misses: " + misses.prefix(12).joined(separator: ", ")))
        return r
    }
}
