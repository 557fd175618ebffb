import Foundation
import LoupeGraph
import LoupeTensor

/// ZeroPadding2D, Cropping2D, UpSampling2D.
extension KerasGraphBuilder {
    /// `padding`/`cropping`: an int, `[rows, cols]` (symmetric), or `[[top, bottom], [left, right]]`.
    private func twoByTwo(_ call: KerasLayerCall, _ key: String, _ def: Int) throws -> (top: Int, bottom: Int, left: Int, right: Int) {
        let v = call.config[key]
        if v == nil { return (def, def, def, def) }
        if let n = v as? NSNumber { return (n.intValue, n.intValue, n.intValue, n.intValue) }
        if let a = v as? [NSNumber], a.count == 2 { return (a[0].intValue, a[0].intValue, a[1].intValue, a[1].intValue) }
        if let a = v as? [[NSNumber]], a.count == 2, a[0].count == 2, a[1].count == 2 {
            return (a[0][0].intValue, a[0][1].intValue, a[1][0].intValue, a[1][1].intValue)
        }
        throw LoupeError.invalid("\(file): \(call.label): '\(key)' should be an int, two ints or two pairs of ints")
    }

    func zeroPadding2D(_ call: KerasLayerCall) throws -> KerasValue {
        let last = try channelsLast(call)
        let x = channelsFirst(try single(call), call, channelsLast: last)
        let p = try twoByTwo(call, "padding", 1)
        let pads = ints([0, 0, p.top, p.left, 0, 0, p.bottom, p.right], call.sub("pads"))
        return KerasValue(name: emit("Pad", [x.name, pads], name: call.nodeName, ["mode": .string("constant")]), rank: 4, nchw: last)
    }

    func cropping2D(_ call: KerasLayerCall) throws -> KerasValue {
        let last = try channelsLast(call)
        let x = channelsFirst(try single(call), call, channelsLast: last)
        let c = try twoByTwo(call, "cropping", 0)
        let big = Int(Int64.max)
        let starts = ints([c.top, c.left], call.sub("starts"))
        let ends = ints([c.bottom == 0 ? big : -c.bottom, c.right == 0 ? big : -c.right], call.sub("ends"))
        let axes = ints([2, 3], call.sub("axes"))
        return KerasValue(name: emit("Slice", [x.name, starts, ends, axes], name: call.nodeName), rank: 4, nchw: last)
    }

    /// UpSampling2D: `nearest` repeats pixels (asymmetric coordinates, floor); `bilinear`
    /// interpolates with half-pixel centres, as Keras's image resize does.
    func upSampling2D(_ call: KerasLayerCall) throws -> KerasValue {
        let last = try channelsLast(call)
        let x = channelsFirst(try single(call), call, channelsLast: last)
        let size = try call.pair("size", [2, 2])
        let interpolation = call.string("interpolation", "nearest")
        let attrs: [String: Attribute]
        switch interpolation {
        case "nearest":
            attrs = ["mode": .string("nearest"), "coordinate_transformation_mode": .string("asymmetric"), "nearest_mode": .string("floor")]
        case "bilinear":
            attrs = ["mode": .string("linear"), "coordinate_transformation_mode": .string("half_pixel")]
        default:
            throw LoupeError.unsupported("\(file): \(call.label) has interpolation '\(interpolation)'; Loupe supports nearest and bilinear")
        }
        let scales = param(Tensor.vector([1, 1, Float(size[0]), Float(size[1])]), call.param("scales"))
        return KerasValue(name: emit("Resize", [x.name, "", scales], name: call.nodeName, attrs), rank: 4, nchw: last)
    }
}
