import LoupeTensor

/// Where a unit's field lies in the input: the box of input pixels of unit (y, x) of a layer,
/// from the layer's receptive field (`ReceptiveField`: unit 0's first and last pixel per axis,
/// and the stride between neighbouring units).
///
/// Along an axis, unit `u`'s field runs from `first + u·stride` to `last + u·stride`
/// (inclusive). Boxes here are end-exclusive ranges of pixels: `[first + u·stride,
/// last + u·stride + 1)`; with a fractional stride (after a ConvTranspose or an upsampling)
/// the start is rounded down and the end up, so the box covers every pixel the field touches.
/// The centre is `offset + u·stride` (a coordinate, pixel k at k, possibly fractional).
extension ReceptiveField {
    /// Unit `unit`'s field, one end-exclusive range per axis, not clipped to the input (it
    /// can start below 0 or end past the input, where padding lies). Nil when the field is not
    /// finite. `unit` holds one index per axis (y, x for an image).
    public func field(ofUnit unit: [Int]) -> [Range<Int>]? {
        guard isFinite, unit.count == axes.count else { return nil }
        return zip(axes, unit).map { a, u in
            let a = a!
            let lo = (Double(a.first) + Double(u) * a.stride).rounded(.down)
            let hi = (Double(a.last) + Double(u) * a.stride).rounded(.up) + 1
            return Int(lo)..<Int(hi)
        }
    }

    /// Unit `unit`'s field clipped to an input of `inputSize` pixels per axis (H, W): the
    /// part of the input it covers. An axis whose field lies wholly outside the input gives an
    /// empty range at the nearer border. Nil when the field is not finite.
    public func box(ofUnit unit: [Int], inputSize: [Int]) -> [Range<Int>]? {
        guard let f = field(ofUnit: unit), inputSize.count == f.count else { return nil }
        return zip(f, inputSize).map { r, n in
            let lo = min(max(r.lowerBound, 0), n), hi = max(min(r.upperBound, n), lo)
            return lo..<hi
        }
    }

    /// The centre of unit `unit`'s field in input coordinates (pixel k at coordinate k):
    /// `offset + unit · stride` per axis. Nil when the field is not finite.
    public func centre(ofUnit unit: [Int]) -> [Double]? {
        guard isFinite, unit.count == axes.count else { return nil }
        return zip(axes, unit).map { a, u in a!.offset + Double(u) * a!.stride }
    }
}

extension ReceptiveFieldAnalysis {
    /// Which axis of `tensor` runs along each spatial axis of the input (H, W for an image):
    /// nil where no single axis of the tensor does (after a global pool, a flatten). The
    /// other axes, but the batch, are channels. `[N, C, H, W]` gives `[2, 3]`, a channels-last
    /// `[N, H, W, C]` inside a Keras model `[1, 2]`.
    public func unitAxes(of tensor: String) throws -> [Int?] {
        guard let t = types[tensor] else {
            throw LoupeError(.invalidArgument, "no tensor named '\(tensor)' in the graph")
        }
        let (axisFor, _) = try spatialAxes(of: tensor, rank: t.shape.count)
        return inputSpatialAxes.map { axisFor[$0] }
    }

    /// The input's spatial size (H, W for an image).
    public var inputSize: [Int] { inputSpatialAxes.map { types[input]!.shape[$0] } }
}
