import LoupeAnalysis
import LoupeTensor

/// A map of images as a mosaic: 2-D points (a t-SNE embedding, say) are snapped to the cells
/// of a regular grid by an optimal assignment, and each cell shows its image, as in
/// A. Karpathy's "t-SNE visualization of CNN codes" grids (2014): neighbourhoods of the map
/// stay neighbourhoods, but no two images overlap and no cell is wasted.
///
/// The points (n × 2 float32, row-major `[x0, y0, x1, y1, ...]`, y up) are scaled to the unit
/// square, each axis on its own (min → 0, max → 1; a flat axis → 0.5). Cell (r, c) of an
/// R × C grid has its centre at ((c + 0.5) / C, 1 − (r + 0.5) / R), so row 0 is the top of
/// the map. Point i goes to cell j at cost ‖p_i − centre_j‖², and the assignment of least
/// total cost is found exactly by `LinearAssignment` (Jonker–Volgenant).
public enum ThumbnailMosaic {
    /// Where the points went.
    public struct Placement: Sendable, Equatable {
        public var rows: Int
        public var columns: Int
        /// The indices of the points placed (all of them unless subsampled), ascending.
        public var items: [Int]
        /// `cellOfItem[k]` is the cell (row-major, `r * columns + c`) of point `items[k]`.
        public var cellOfItem: [Int]
        /// The summed squared distance from the points (unit square) to their cell centres.
        public var cost: Double
    }

    /// The default grid for `count` points: the smallest near-square grid with at least
    /// `count` cells, `C = ⌈√count⌉` columns and `R = ⌈count / C⌉` rows.
    public static func defaultGrid(count: Int) -> (rows: Int, columns: Int) {
        guard count > 0 else { return (0, 0) }
        var c = Int(Double(count).squareRoot())
        if c * c < count { c += 1 }
        return ((count + c - 1) / c, c)
    }

    /// The points kept when there are more than `maxCells`: `maxCells` of them, evenly spread
    /// over the index order (item ⌊k · count / maxCells⌋ for k = 0, 1, ...), so the choice is
    /// deterministic and shuffles nothing.
    public static func subsample(count: Int, maxCells: Int) -> [Int] {
        guard count > maxCells else { return Array(0..<count) }
        return (0..<maxCells).map { k in k * count / maxCells }
    }

    /// The points (n × 2) scaled to the unit square, each axis on its own, in float64.
    public static func normalized(_ points: [Float]) -> [Double] {
        let n = points.count / 2
        var out = [Double](repeating: 0.5, count: 2 * n)
        for axis in 0..<2 {
            var lo = Double.infinity, hi = -Double.infinity
            for i in 0..<n { let v = Double(points[2 * i + axis]); lo = min(lo, v); hi = max(hi, v) }
            guard hi > lo else { continue }
            for i in 0..<n { out[2 * i + axis] = (Double(points[2 * i + axis]) - lo) / (hi - lo) }
        }
        return out
    }

    /// Places the points (n × 2) on a `rows × columns` grid (nil: `defaultGrid`), taking a
    /// `subsample` when there are more points than `maxCells` or than the grid has cells.
    /// Throws for points that are not finite or a grid larger than `maxCells`.
    public static func place(points: [Float], rows: Int? = nil, columns: Int? = nil, maxCells: Int = 2500) throws -> Placement {
        guard points.count % 2 == 0 else {
            throw LoupeError(.invalidArgument, "thumbnail mosaic: \(points.count) coordinates do not make 2-D points")
        }
        if let bad = points.firstIndex(where: { !$0.isFinite }) {
            throw LoupeError(.invalidArgument, "thumbnail mosaic: point \(bad / 2) has a coordinate \(points[bad])")
        }
        guard maxCells >= 1 else { throw LoupeError(.invalidArgument, "thumbnail mosaic: at most \(maxCells) cells") }
        let n = points.count / 2
        let (r, c): (Int, Int)
        if let rows, let columns {
            guard rows >= 1, columns >= 1, rows <= maxCells, columns <= maxCells, rows * columns <= maxCells else {
                throw LoupeError(.invalidArgument, "thumbnail mosaic: a \(rows) x \(columns) grid; give 1 to \(maxCells) cells")
            }
            (r, c) = (rows, columns)
        } else {
            (r, c) = defaultGrid(count: min(n, maxCells))
        }
        let items = subsample(count: n, maxCells: min(maxCells, r * c))
        guard !items.isEmpty else { return Placement(rows: r, columns: c, items: [], cellOfItem: [], cost: 0) }
        let p = normalized(items.flatMap { [points[2 * $0], points[2 * $0 + 1]] })
        let cells = r * c
        var costs = [Double](repeating: 0, count: items.count * cells)
        for i in 0..<items.count {
            let (px, py) = (p[2 * i], p[2 * i + 1])
            for row in 0..<r {
                let dy = py - (1 - (Double(row) + 0.5) / Double(r))
                for col in 0..<c {
                    let dx = px - (Double(col) + 0.5) / Double(c)
                    costs[i * cells + row * c + col] = dx * dx + dy * dy
                }
            }
        }
        let s = try LinearAssignment.solve(costs: costs, rows: items.count, columns: cells)
        return Placement(rows: r, columns: c, items: items, cellOfItem: s.columnOfRow, cost: s.cost)
    }

    /// Draws the mosaic: `cellSize × cellSize` pixels per cell, `gap` pixels between cells and
    /// around, each image fitted into its cell keeping its aspect ratio (`thumbnail`), empty
    /// cells left in `background`. `image(i)` gives point i's image.
    public static func render(_ placement: Placement, cellSize: Int = 32, gap: Int = 1,
                              background: (Float, Float, Float) = (1, 1, 1),
                              image: (Int) throws -> RGBImage) throws -> RGBImage {
        guard cellSize >= 1, cellSize <= 4096, gap >= 0, gap <= 256 else {
            throw LoupeError(.invalidArgument, "thumbnail mosaic: cell size \(cellSize) (1 to 4096) or gap \(gap) (0 to 256) out of range")
        }
        let width = placement.columns * (cellSize + gap) + gap, height = placement.rows * (cellSize + gap) + gap
        var out = try RGBImage(width: max(width, 1), height: max(height, 1), fill: background)
        for (k, item) in placement.items.enumerated() {
            let cell = placement.cellOfItem[k]
            let (r, c) = (cell / placement.columns, cell % placement.columns)
            let t = try thumbnail(try image(item), width: cellSize, height: cellSize, background: background)
            out.paste(t, x: gap + c * (cellSize + gap), y: gap + r * (cellSize + gap))
        }
        return out
    }

    /// `image` fitted into `width × height` keeping its aspect ratio, centred on `background`
    /// (RGB; alpha is dropped). Shrinking by 2 or more first averages 2 × 2 blocks (repeatedly)
    /// so that fine detail does not alias, then resizes bilinearly.
    public static func thumbnail(_ image: RGBImage, width: Int, height: Int,
                                 background: (Float, Float, Float) = (1, 1, 1)) throws -> RGBImage {
        guard image.width > 0, image.height > 0 else {
            return try RGBImage(width: width, height: height, fill: background)
        }
        let scale = min(Double(width) / Double(image.width), Double(height) / Double(image.height))
        let w = max(1, min(width, Int((Double(image.width) * scale).rounded())))
        let h = max(1, min(height, Int((Double(image.height) * scale).rounded())))
        var src = try image.rgb()
        while src.width >= 2 * w && src.height >= 2 * h { src = halved(src) }
        let fitted = src.width == w && src.height == h ? src : try Resample.resize(src, width: w, height: h)
        if w == width && h == height { return fitted }
        var out = try RGBImage(width: width, height: height, fill: background)
        out.paste(fitted, x: (width - w) / 2, y: (height - h) / 2)
        return out
    }

    /// 2 × 2 box average of an RGB image (an odd last row or column is dropped).
    static func halved(_ img: RGBImage) -> RGBImage {
        let w = img.width / 2, h = img.height / 2
        var px = [Float](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                for ch in 0..<3 {
                    let a = img.pixels[((2 * y) * img.width + 2 * x) * 3 + ch] + img.pixels[((2 * y) * img.width + 2 * x + 1) * 3 + ch]
                    let b = img.pixels[((2 * y + 1) * img.width + 2 * x) * 3 + ch] + img.pixels[((2 * y + 1) * img.width + 2 * x + 1) * 3 + ch]
                    px[(y * w + x) * 3 + ch] = (a + b) / 4
                }
            }
        }
        return try! RGBImage(width: w, height: h, channels: 3, pixels: px, bitDepth: img.bitDepth)
    }
}
