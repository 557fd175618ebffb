import Foundation
import LoupeTensor

/// The pointing game (Zhang, Lin, Brandt, Shen and Sclaroff, "Top-down Neural Attention by
/// Excitation Backprop", ECCV 2016): an explanation hits when the maximum of its map,
/// upsampled bilinearly to the input (`AttributionMap`), lies within `tolerance` pixels of the
/// object's box (Euclidean distance from the point to the nearest pixel of the box; Zhang et
/// al. use 15, Loupe's default 0 counts only points inside the box). Tied maxima (occlusion's
/// map is constant on each stride cell) count at their centroid.
///
/// Boxes are read from an annotations file in the format of SampleModels/shapes/test/
/// annotations.json: {"images": [{"file": NAME, "label": CLASS, "box": [x0, y0, x1, y1]}, …]},
/// in pixels of the model's input, x0, y0 inclusive and x1, y1 exclusive.
public enum PointingGame {
    public struct Box: Sendable, Codable, Equatable {
        public var x0, y0, x1, y1: Int  // x1, y1 exclusive
        public init(x0: Int, y0: Int, x1: Int, y1: Int) { (self.x0, self.y0, self.x1, self.y1) = (x0, y0, x1, y1) }
        public func contains(y: Int, x: Int) -> Bool { x >= x0 && x < x1 && y >= y0 && y < y1 }
        public var area: Int { (x1 - x0) * (y1 - y0) }
        /// Euclidean distance from pixel (y, x) to the nearest pixel of the box (0 inside).
        public func distance(y: Int, x: Int) -> Double {
            let dx = x < x0 ? x0 - x : (x >= x1 ? x - (x1 - 1) : 0)
            let dy = y < y0 ? y0 - y : (y >= y1 ? y - (y1 - 1) : 0)
            return Double(dx * dx + dy * dy).squareRoot()
        }
    }

    public struct Annotation: Sendable {
        public var file: String
        public var label: Int
        public var box: Box
    }

    public struct Result: Sendable, Encodable {
        public var x: Int
        public var y: Int
        public var box: [Int]
        public var distance: Double
        public var hit: Bool
    }

    /// The largest annotations file read: 64 MiB (the shapes set's is 15 KB; COCO's val2017 boxes 25 MB).
    public static let maxFileBytes = 64 << 20

    /// The entries of an annotations file, in its order. Throws naming the file when it is not
    /// in that format or a box is not four numbers with x0 < x1 and y0 < y1.
    public static func annotations(file path: String) throws -> [Annotation] {
        struct Item: Decodable { var file: String; var label: Int?; var box: [Int] }
        struct Doc: Decodable { var images: [Item] }
        // Only a non-empty regular file of at most 64 MiB is read: a FIFO or /dev/zero would never
        // end, and Foundation's reader leaks a 4 KiB buffer on an empty file (found by fuzz-annotations).
        // A symbolic link is judged by its target (attributesOfItem describes the link itself).
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let attributes = try? FileManager.default.attributesOfItem(atPath: target)
        if let attributes, let size = attributes[.size] as? Int {
            guard attributes[.type] as? FileAttributeType == .typeRegular else {
                throw LoupeError(.invalidArgument, "\(path): cannot read the boxes file (it is not a regular file)")
            }
            guard size > 0, size <= maxFileBytes else {
                throw LoupeError(.invalidArgument, "\(path): cannot read the boxes file (it holds \(size) bytes; an annotations file has 1 to \(maxFileBytes))")
            }
        }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw LoupeError(.invalidArgument, "\(path): cannot read the boxes file (\(error.localizedDescription))")
        }
        let doc: Doc
        do { doc = try JSONDecoder().decode(Doc.self, from: data) } catch {
            throw LoupeError(.invalidArgument, "\(path): not an annotations file ({\"images\": [{\"file\": NAME, \"box\": [x0, y0, x1, y1]}, ...]}): \(error)")
        }
        return try doc.images.map { item in
            guard item.box.count == 4, item.box[0] < item.box[2], item.box[1] < item.box[3] else {
                throw LoupeError(.invalidArgument, "\(path): the box of '\(item.file)' is \(item.box); expected [x0, y0, x1, y1] with x0 < x1 and y0 < y1")
            }
            return Annotation(file: item.file, label: item.label ?? -1, box: Box(x0: item.box[0], y0: item.box[1], x1: item.box[2], y1: item.box[3]))
        }
    }

    /// The entries of `dir/annotations.json`.
    public static func annotations(_ dir: URL) throws -> [Annotation] {
        try annotations(file: dir.appendingPathComponent("annotations.json").path)
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

    /// The location of the maximum of a `? × width` map; tied maxima count at their centroid.
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

    /// The game on an attribution map.
    public static func play(_ map: AttributionMap, box: Box, tolerance: Double = 0) -> Result {
        let p = peak(map.values, map.width)
        let d = box.distance(y: p.y, x: p.x)
        return Result(x: p.x, y: p.y, box: [box.x0, box.y0, box.x1, box.y1], distance: d, hit: d <= tolerance)
    }
}
