import LoupeTensor

/// Several titled pictures side by side on a white background, wrapping into rows, with an
/// optional caption block (e.g. the top predictions) and colour-bar legends underneath.
///
/// Layout (all in image pixels, `s = style.textScale`, `T = BitmapFont.textHeight("", scale: s)`):
/// ```
/// margin
/// row 0:  [title]  titleGap  [tile]     (cells: cellWidth × (T + titleGap + cellHeight), gap between)
/// gap
/// row 1:  ...
/// gap + caption (lines of text)                       if any caption line
/// gap + legend: [title T + titleGap] bar (barHeight) + labelGap + T    per legend
/// margin
/// ```
/// `cellWidth` is the widest tile or tile title, `cellHeight` the tallest tile; tiles are
/// centred horizontally in their cells, titles centred above them. The picture is as wide as
/// the widest of the grid, the caption lines and the legends, plus a margin on each side.
public enum Panel {
    public struct Tile: Sendable {
        public var title: String
        public var image: RGBImage
        public init(_ title: String, _ image: RGBImage) {
            self.title = title
            self.image = image
        }
    }

    /// A horizontal colour bar for `colormap`, with `labels` spread evenly under it (first at
    /// the left end, last at the right end, e.g. ["0", "0.5", "1"] or ["-max", "0", "+max"]).
    public struct Legend: Sendable {
        public var colormap: Colormap
        public var title: String
        public var labels: [String]
        /// Bar width in pixels; nil: as wide as the tile grid (at least 128).
        public var width: Int?
        public init(_ colormap: Colormap, title: String? = nil, labels: [String] = ["0", "0.5", "1"], width: Int? = nil) {
            self.colormap = colormap
            self.title = title ?? colormap.name
            self.labels = labels
            self.width = width
        }
    }

    public struct Style: Sendable {
        public var margin = 12
        public var gap = 12
        public var titleGap = 4
        public var textScale = 2
        public var barHeight = 14
        public var labelGap = 4
        public var background: (Float, Float, Float) = (1, 1, 1)
        public var textColor: (Float, Float, Float) = (0.1, 0.1, 0.1)
        public init() {}
    }

    /// Where everything goes; `compose` draws it.
    public struct Layout: Sendable, Equatable {
        public var width = 0, height = 0
        public var columns = 0, rows = 0
        public var cellWidth = 0, cellHeight = 0
        public var titleHeight = 0
        /// Top-left corner of each tile's cell (the title's line; the tile is below it).
        public var cells: [Point] = []
        public var captionY = 0
        /// Top of each legend block.
        public var legendY: [Int] = []
        public var legendWidth = 0
    }

    public struct Point: Sendable, Equatable {
        public var x: Int, y: Int
    }

    /// The layout of `compose` for these arguments. `columns` (default: all tiles in one row)
    /// is the number of tiles per row.
    public static func layout(_ tiles: [Tile], columns: Int? = nil, caption: [String] = [],
                              legends: [Legend] = [], style: Style = Style()) throws -> Layout {
        let s = max(1, style.textScale)
        var L = Layout()
        if !tiles.isEmpty {
            if let c = columns, c < 1 { throw LoupeError(.invalidArgument, "a panel needs at least 1 column, got \(c)") }
            L.columns = min(tiles.count, columns ?? tiles.count)
            L.rows = (tiles.count + L.columns - 1) / L.columns
            L.cellWidth = tiles.map { max($0.image.width, BitmapFont.textWidth($0.title, scale: s)) }.max()!
            L.cellHeight = tiles.map(\.image.height).max()!
            L.titleHeight = tiles.contains { !$0.title.isEmpty }
                ? BitmapFont.textHeight("", scale: s) + style.titleGap : 0
        }
        let gridWidth = L.columns == 0 ? 0 : L.columns * L.cellWidth + (L.columns - 1) * style.gap
        let rowHeight = L.titleHeight + L.cellHeight
        var y = style.margin
        for i in 0..<tiles.count {
            let r = i / L.columns, c = i % L.columns
            L.cells.append(Point(x: style.margin + c * (L.cellWidth + style.gap), y: y + r * (rowHeight + style.gap)))
        }
        if L.rows > 0 { y += L.rows * rowHeight + (L.rows - 1) * style.gap }
        var contentWidth = gridWidth
        if !caption.isEmpty {
            if L.rows > 0 { y += style.gap }
            L.captionY = y
            let text = caption.joined(separator: "\n")
            y += BitmapFont.textHeight(text, scale: s)
            contentWidth = max(contentWidth, BitmapFont.textWidth(text, scale: s))
        }
        L.legendWidth = max(128, gridWidth)
        for legend in legends {
            if y > style.margin { y += style.gap }
            L.legendY.append(y)
            y += legendHeight(legend, style)
            let labelsWidth = legend.labels.map { BitmapFont.textWidth($0, scale: s) }.reduce(0, +)
                + max(0, legend.labels.count - 1) * BitmapFont.advance * s
            contentWidth = max(contentWidth, legend.width ?? L.legendWidth, labelsWidth,
                               BitmapFont.textWidth(legend.title, scale: s))
        }
        L.width = contentWidth + 2 * style.margin
        L.height = y + style.margin
        _ = try Tensor.checkedCount([L.height, L.width, 3])
        return L
    }

    /// The panel as an RGB image (see the type's documentation for the layout).
    public static func compose(_ tiles: [Tile], columns: Int? = nil, caption: [String] = [],
                               legends: [Legend] = [], style: Style = Style()) throws -> RGBImage {
        let L = try layout(tiles, columns: columns, caption: caption, legends: legends, style: style)
        let s = max(1, style.textScale)
        var img = try RGBImage(width: L.width, height: L.height, fill: style.background)
        for (tile, cell) in zip(tiles, L.cells) {
            let tw = BitmapFont.textWidth(tile.title, scale: s)
            BitmapFont.drawText(tile.title, into: &img, x: cell.x + (L.cellWidth - tw) / 2, y: cell.y,
                                scale: s, color: style.textColor)
            img.paste(tile.image, x: cell.x + (L.cellWidth - tile.image.width) / 2, y: cell.y + L.titleHeight)
        }
        if !caption.isEmpty {
            BitmapFont.drawText(caption.joined(separator: "\n"), into: &img, x: style.margin, y: L.captionY,
                                scale: s, color: style.textColor)
        }
        for (legend, y0) in zip(legends, L.legendY) {
            drawLegend(legend, into: &img, x: style.margin, y: y0, width: legend.width ?? L.legendWidth, style: style)
        }
        return img
    }

    /// Height of one legend block: title line (if any), bar, labels (if any).
    static func legendHeight(_ legend: Legend, _ style: Style) -> Int {
        let t = BitmapFont.textHeight("", scale: max(1, style.textScale))
        return (legend.title.isEmpty ? 0 : t + style.titleGap) + style.barHeight
            + (legend.labels.isEmpty ? 0 : style.labelGap + t)
    }

    /// The bar samples the map at the pixel centres, `(i + 0.5) / width`, inside a gray frame.
    static func drawLegend(_ legend: Legend, into img: inout RGBImage, x: Int, y: Int, width: Int, style: Style) {
        let s = max(1, style.textScale)
        var top = y
        if !legend.title.isEmpty {
            BitmapFont.drawText(legend.title, into: &img, x: x, y: top, scale: s, color: style.textColor)
            top += BitmapFont.textHeight("", scale: s) + style.titleGap
        }
        img.fillRect(x: x - 1, y: top - 1, w: width + 2, h: style.barHeight + 2, color: (0.55, 0.55, 0.55))
        for i in 0..<width {
            let c = legend.colormap.map((Float(i) + 0.5) / Float(width))
            img.fillRect(x: x + i, y: top, w: 1, h: style.barHeight, color: c)
        }
        let labelY = top + style.barHeight + style.labelGap
        let n = legend.labels.count
        for (k, label) in legend.labels.enumerated() {
            let w = BitmapFont.textWidth(label, scale: s)
            let centre = n == 1 ? x + width / 2 : x + k * (width - 1) / (n - 1)
            let lx = min(max(centre - w / 2, x), x + width - w)   // keep the end labels inside the bar
            BitmapFont.drawText(label, into: &img, x: lx, y: labelY, scale: s, color: style.textColor)
        }
    }
}
