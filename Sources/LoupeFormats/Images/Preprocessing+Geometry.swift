import LoupeTensor

extension Preprocessing {
    /// How `tensor(from:height:width:)` places an image in the model's input: the image
    /// (`imageWidth × imageHeight`) is resized to `resizedWidth × resizedHeight` (half-pixel
    /// centres) and the input (`width × height`) cut from it at (`left`, `top`). Maps boxes
    /// and points of the input back to the original image's pixels.
    public struct Frame: Sendable, Equatable {
        public var imageWidth: Int, imageHeight: Int
        public var resizedWidth: Int, resizedHeight: Int
        public var left: Int, top: Int
        public var width: Int, height: Int

        /// True when the input is the image itself, pixel for pixel.
        public var isIdentity: Bool {
            imageWidth == width && imageHeight == height && resizedWidth == width && resizedHeight == height
        }

        /// A box of the input, `[y0, x0, y1, x1]` end-exclusive, as the box of the original
        /// image it was resampled from: pixel edge `e` of the input lies at edge
        /// `(e + left) · imageWidth / resizedWidth` of the image (the same for y); the start is
        /// rounded down and the end up, then clipped to the image.
        public func imageBox(_ box: [Int]) -> [Int] {
            precondition(box.count == 4, "a box is [y0, x0, y1, x1]")
            let sy = Double(imageHeight) / Double(resizedHeight), sx = Double(imageWidth) / Double(resizedWidth)
            func edge(_ e: Int, _ shift: Int, _ s: Double, up: Bool) -> Double {
                let v = Double(e + shift) * s
                // Against float noise: 3 · (64/192) must stay 1.
                let r = (v * 1e9).rounded() / 1e9
                return up ? r.rounded(.up) : r.rounded(.down)
            }
            let y0 = Int(edge(box[0], top, sy, up: false)), x0 = Int(edge(box[1], left, sx, up: false))
            let y1 = Int(edge(box[2], top, sy, up: true)), x1 = Int(edge(box[3], left, sx, up: true))
            let cy0 = min(max(y0, 0), imageHeight), cx0 = min(max(x0, 0), imageWidth)
            return [cy0, cx0, max(min(y1, imageHeight), cy0), max(min(x1, imageWidth), cx0)]
        }

        /// A point of the input (pixel k at coordinate k) in the original image's coordinates:
        /// `(p + left + 0.5) · imageWidth / resizedWidth − 0.5` (the same for y).
        public func imagePoint(y: Double, x: Double) -> (y: Double, x: Double) {
            ((y + Double(top) + 0.5) * Double(imageHeight) / Double(resizedHeight) - 0.5,
             (x + Double(left) + 0.5) * Double(imageWidth) / Double(resizedWidth) - 0.5)
        }
    }

    /// The geometry `tensor(from:height:width:)` applies to an image of this size.
    public func frame(imageWidth: Int, imageHeight: Int, height: Int, width: Int) throws -> Frame {
        guard imageWidth > 0, imageHeight > 0, height > 0, width > 0 else {
            throw LoupeError(.invalidArgument, "no frame for a \(imageWidth)x\(imageHeight) image in a \(width)x\(height) input")
        }
        let (rw, rh) = try resizedSize(width: imageWidth, height: imageHeight, targetHeight: height, targetWidth: width)
        return Frame(imageWidth: imageWidth, imageHeight: imageHeight, resizedWidth: rw, resizedHeight: rh,
                     left: (rw - width) / 2, top: (rh - height) / 2, width: width, height: height)
    }

    /// The same settings with the geometry only: values in [0, 1], RGB, NCHW, no mean or
    /// std, so that `tensor(from:height:width:)` gives the picture the model sees.
    public var geometryOnly: Preprocessing {
        Preprocessing(resizeShorterSide: resizeShorterSide, centerCrop: centerCrop)
    }
}
