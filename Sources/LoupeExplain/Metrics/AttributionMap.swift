import LoupeTensor

/// An explanation as every metric reads it: one value per input pixel, H×W in raster order.
///
/// A map of shape C×H×W (the input-gradient methods) is first reduced over its channels by
/// what it holds: the maximum for a non-negative magnitude (`MapKind.inputMagnitude`, as
/// Simonyan et al. reduce their saliency), the sum for a signed attribution
/// (`inputGradient`: a pixel's share is the sum of its channels' shares). A map of another
/// size (a class map at a layer's resolution) is then upsampled bilinearly with half-pixel
/// centres, as PyTorch's `interpolate(mode="bilinear", align_corners=False)` (`Bilinear`).
/// Layer feature maps (`featureMaps`) are not attributions of a class and are refused.
public struct AttributionMap: Sendable {
    public var height: Int
    public var width: Int
    /// height × width values, raster order.
    public var values: [Float]

    public init(height: Int, width: Int, values: [Float]) {
        precondition(values.count == height * width, "AttributionMap: \(values.count) values for \(height)x\(width)")
        (self.height, self.width, self.values) = (height, width, values)
    }

    /// The explanation's map reduced and upsampled to `height × width`.
    public init(_ e: Explanation, height: Int, width: Int) throws {
        try self.init(e.map, kind: e.kind, method: e.method.rawValue, height: height, width: width)
    }

    /// A map of the given kind: [h, w], or [C, h, w] reduced over C as described above.
    public init(_ map: Tensor, kind: MapKind, method: String = "map", height: Int, width: Int) throws {
        guard kind != .featureMaps else {
            throw LoupeError(.invalidArgument, "\(method) gives a layer's feature maps, not an attribution of a class: the metrics cannot evaluate it")
        }
        var plane = map.floats
        var (h, w) = (0, 0)
        switch map.rank {
        case 2:
            (h, w) = (map.shape[0], map.shape[1])
        case 3:
            let c = map.shape[0]
            (h, w) = (map.shape[1], map.shape[2])
            let n = h * w
            let v = map.floats
            plane = Array(v[0..<n])
            for k in 1..<max(c, 1) {
                for i in 0..<n {
                    plane[i] = kind == .inputMagnitude ? max(plane[i], v[k * n + i]) : plane[i] + v[k * n + i]
                }
            }
        default:
            throw LoupeError.shape("\(method): a map of shape \(describe(map.shape)) cannot be evaluated; expected [h, w] or [C, h, w]")
        }
        guard h > 0, w > 0 else { throw LoupeError.shape("\(method): empty map \(describe(map.shape))") }
        values = (h, w) == (height, width) ? plane : resizeBilinear(plane, h: h, w: w, toHeight: height, width: width)
        (self.height, self.width) = (height, width)
    }

    /// Pixel indices by descending value, ties by ascending raster index (a stable sort):
    /// the order in which deletion and insertion change pixels.
    public var descendingOrder: [Int] {
        let v = values
        return values.indices.sorted { v[$0] > v[$1] || (v[$0] == v[$1] && $0 < $1) }
    }

    /// The values scaled to [0, 1] as pytorch-grad-cam's `scale_cam_image` does before its
    /// metrics read a map: (m − min) / (max − min + 1e-7), in float32.
    public var scaled: [Float] {
        guard let lo = values.min() else { return [] }
        let shifted = values.map { $0 - lo }
        let d = shifted.max()! + 1e-7
        return shifted.map { $0 / d }
    }
}
