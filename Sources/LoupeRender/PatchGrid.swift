import LoupeTensor

/// Maximally activating patches as a picture: one row per channel (its title at the left), each
/// row's patches side by side, each scaled to a common square cell (aspect kept, enlarged with
/// nearest-neighbour scaling, shrunk bilinearly) with its label (the activation) above it.
///
/// A patch is the receptive field of a unit: where the field reaches past the input (padding),
/// the missing part is drawn as gray diagonal stripes, and the unit's position (the centre of
/// its field) is marked with a red cross. Zeiler and Fergus show such patches in "Visualizing
/// and Understanding Convolutional Networks" (ECCV 2014), figure 2.
///
/// Layout (image pixels; `T1`, `T2` the heights of a text line at scale 1 and `style.textScale`):
/// ```
/// margin, heading (T2) + rowGap                       if a heading is given
/// per row: [title column] [label T1 + 2, cell] gap [label, cell] ...   then rowGap
/// margin
/// ```
public enum PatchGrid {
    /// The pixels of one field. `inside` is the part of `image` that lies inside the input,
    /// `[y0, x0, y1, x1]` end-exclusive in the patch's pixels (the rest is padding and is not
    /// drawn); `centre` the unit's position in the patch's coordinates (pixel k at k).
    public struct Patch: Sendable {
        public var image: RGBImage
        public var inside: [Int]
        public var centre: (y: Double, x: Double)
        public var label: String

        public init(image: RGBImage, inside: [Int], centre: (y: Double, x: Double), label: String) {
            precondition(inside.count == 4, "inside is [y0, x0, y1, x1]")
            self.image = image
            self.inside = inside
            self.centre = centre
            self.label = label
        }

        /// The patch `field` of `image`: `field` holds the end-exclusive rows and columns (in
        /// `image`'s pixels) of the field, which can reach past the image; `centre` is the
        /// unit's position in `image`'s coordinates. Pixels outside the image are left black
        /// and fall outside `inside`.
        public static func cut(from image: RGBImage, field: (rows: Range<Int>, columns: Range<Int>),
                               centre: (y: Double, x: Double), label: String) throws -> Patch {
            let h = field.rows.count, w = field.columns.count
            guard h > 0, w > 0 else { throw LoupeError.shape("an empty field \(field.rows) x \(field.columns)") }
            let src = image.rgbSamples()
            var px = [Float](repeating: 0, count: try Tensor.checkedCount([h, w, 3]))
            let y0 = field.rows.lowerBound, x0 = field.columns.lowerBound
            for y in max(y0, 0)..<max(max(y0, 0), min(field.rows.upperBound, image.height)) {
                for x in max(x0, 0)..<max(max(x0, 0), min(field.columns.upperBound, image.width)) {
                    let s = (y * image.width + x) * 3, d = ((y - y0) * w + (x - x0)) * 3
                    px[d] = src[s]; px[d + 1] = src[s + 1]; px[d + 2] = src[s + 2]
                }
            }
            let inside = [min(max(-y0, 0), h), min(max(-x0, 0), w),
                          max(min(image.height - y0, h), 0), max(min(image.width - x0, w), 0)]
            return Patch(image: try RGBImage(width: w, height: h, channels: 3, pixels: px), inside: inside,
                         centre: (centre.y - Double(y0), centre.x - Double(x0)), label: label)
        }
    }
}

extension PatchGrid.Patch {
    /// The patch shrunk (bilinearly, aspect kept) so that its longer side is at most `side`
    /// pixels, `inside` and `centre` scaled with it; unchanged when it is small enough. Keeps
    /// the memory of a grid of large fields (ResNet's last layers: 435 pixels) small.
    public func scaled(toFit side: Int) throws -> PatchGrid.Patch {
        let longer = max(image.width, image.height)
        guard side > 0, longer > side else { return self }
        let s = Double(side) / Double(longer)
        let w = max(1, Int((Double(image.width) * s).rounded())), h = max(1, Int((Double(image.height) * s).rounded()))
        let sy = Double(h) / Double(image.height), sx = Double(w) / Double(image.width)
        let scaledInside = [Int((Double(inside[0]) * sy).rounded()), Int((Double(inside[1]) * sx).rounded()),
                            Int((Double(inside[2]) * sy).rounded()), Int((Double(inside[3]) * sx).rounded())]
        return PatchGrid.Patch(image: try Resample.resize(image, width: w, height: h, mode: .bilinear), inside: scaledInside,
                               centre: ((centre.y + 0.5) * sy - 0.5, (centre.x + 0.5) * sx - 0.5), label: label)
    }
}

extension PatchGrid {
    public struct Row: Sendable {
        public var title: String
        public var patches: [Patch]
        public init(title: String, patches: [Patch]) {
            self.title = title
            self.patches = patches
        }
    }

    public struct Style: Sendable {
        /// Side of the square cell every patch is scaled into.
        public var cell = 96
        public var gap = 6
        public var rowGap = 10
        public var margin = 12
        /// Scale of the heading and the row titles; patch labels are at scale 1.
        public var textScale = 2
        public var background: (Float, Float, Float) = (1, 1, 1)
        public var textColor: (Float, Float, Float) = (0.1, 0.1, 0.1)
        public var frame: (Float, Float, Float) = (0.55, 0.55, 0.55)
        public var stripes: ((Float, Float, Float), (Float, Float, Float)) = ((0.62, 0.62, 0.62), (0.80, 0.80, 0.80))
        public var marker: (Float, Float, Float) = (0.9, 0.05, 0.05)
        public init() {}
    }

    /// The grid as an RGB image (see the type's documentation); `heading` is a line of text
    /// above the rows.
    public static func render(_ rows: [Row], heading: String? = nil, style: Style = Style()) throws -> RGBImage {
        let s = max(1, style.textScale)
        let cell = max(8, style.cell)
        let labelHeight = BitmapFont.textHeight("", scale: 1) + 2
        let titleWidth = rows.map { BitmapFont.textWidth($0.title, scale: s) }.max() ?? 0
        let columns = max(1, rows.map(\.patches.count).max() ?? 0)
        let gridLeft = style.margin + titleWidth + (titleWidth > 0 ? style.gap * 2 : 0)
        let rowHeight = labelHeight + cell
        var width = gridLeft + columns * cell + (columns - 1) * style.gap + style.margin
        var top = style.margin
        if let heading {
            width = max(width, BitmapFont.textWidth(heading, scale: s) + 2 * style.margin)
            top += BitmapFont.textHeight(heading, scale: s) + style.rowGap
        }
        let height = top + rows.count * rowHeight + max(0, rows.count - 1) * style.rowGap + style.margin
        var img = try RGBImage(width: width, height: height, fill: style.background)
        if let heading {
            BitmapFont.drawText(heading, into: &img, x: style.margin, y: style.margin, scale: s, color: style.textColor)
        }
        for (r, row) in rows.enumerated() {
            let y = top + r * (rowHeight + style.rowGap)
            let titleY = y + labelHeight + (cell - BitmapFont.textHeight(row.title, scale: s)) / 2
            BitmapFont.drawText(row.title, into: &img, x: style.margin, y: titleY, scale: s, color: style.textColor)
            if row.patches.isEmpty {
                BitmapFont.drawText("no activations", into: &img, x: gridLeft, y: y + labelHeight + cell / 2 - 4,
                                    scale: 1, color: style.textColor)
            }
            for (c, patch) in row.patches.enumerated() {
                let x = gridLeft + c * (cell + style.gap)
                let lw = BitmapFont.textWidth(patch.label, scale: 1)
                BitmapFont.drawText(patch.label, into: &img, x: x + (cell - lw) / 2, y: y, scale: 1, color: style.textColor)
                try draw(patch, into: &img, x: x, y: y + labelHeight, cell: cell, style: style)
            }
        }
        return img
    }

    /// One patch scaled into the `cell × cell` square at (`x`, `y`), framed, padding striped,
    /// its centre marked.
    static func draw(_ patch: Patch, into img: inout RGBImage, x: Int, y: Int, cell: Int, style: Style) throws {
        let p = patch.image
        let scale = Double(cell) / Double(max(p.width, p.height))
        let dw = max(1, Int((Double(p.width) * scale).rounded())), dh = max(1, Int((Double(p.height) * scale).rounded()))
        let scaled = try Resample.resize(try p.rgb(), width: dw, height: dh, mode: scale >= 1 ? .nearest : .bilinear)
        let ox = x + (cell - dw) / 2, oy = y + (cell - dh) / 2
        img.fillRect(x: ox - 1, y: oy - 1, w: dw + 2, h: dh + 2, color: style.frame)
        img.paste(scaled, x: ox, y: oy)
        // Padding: cell pixels whose source position falls outside `inside`.
        let sy = Double(p.height) / Double(dh), sx = Double(p.width) / Double(dw)
        let inside = patch.inside
        for py in 0..<dh {
            let v = (Double(py) + 0.5) * sy
            let rowOut = v < Double(inside[0]) || v >= Double(inside[2])
            for px in 0..<dw {
                let u = (Double(px) + 0.5) * sx
                guard rowOut || u < Double(inside[1]) || u >= Double(inside[3]) else { continue }
                let stripe = ((px + py) / 4) % 2 == 0 ? style.stripes.0 : style.stripes.1
                img.fillRect(x: ox + px, y: oy + py, w: 1, h: 1, color: stripe)
            }
        }
        // The unit's position: pixel k's centre lies at k + 0.5 in edge coordinates.
        let cx = ox + Int(((patch.centre.x + 0.5) / sx).rounded(.down))
        let cy = oy + Int(((patch.centre.y + 0.5) / sy).rounded(.down))
        let arm = max(3, cell / 16)
        img.fillRect(x: cx - arm - 1, y: cy - 1, w: 2 * arm + 3, h: 3, color: (1, 1, 1))
        img.fillRect(x: cx - 1, y: cy - arm - 1, w: 3, h: 2 * arm + 3, color: (1, 1, 1))
        img.fillRect(x: cx - arm, y: cy, w: 2 * arm + 1, h: 1, color: style.marker)
        img.fillRect(x: cx, y: cy - arm, w: 1, h: 2 * arm + 1, color: style.marker)
    }
}
