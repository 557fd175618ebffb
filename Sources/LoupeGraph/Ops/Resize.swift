import LoupeTensor

/// Resize: resamples every axis of X. Opset 10: inputs X, `scales`; behaves like Upsample
/// (asymmetric coordinates, nearest = floor). Opset 11+: inputs X, `roi`, `scales`, `sizes`
/// (one of scales/sizes, the other absent or empty) and the attributes below. Opset 18 adds
/// `axes`, `antialias` and `keep_aspect_ratio_policy`.
///
/// Output length per axis: floor(in·scale) from scales, or `sizes` (scale = out/in). Each
/// output position maps to an input coordinate by `coordinate_transformation_mode`, then
/// takes the nearest input (`nearest_mode`) or interpolates (`linear`, `cubic` with
/// `cubic_coeff_a`, `exclude_outside`); `tf_crop_and_resize` reads `roi` and writes
/// `extrapolation_value` outside it. Linear and cubic run as one separable pass per axis.
public struct Resize: Operator {
    public static let opType = "Resize"
    let options: Movement.ResizeOptions
    let opset: Int
    let axes: [Int]?
    let keepAspectRatioPolicy: String

    public init(_ context: OpContext) throws {
        let a = context.attributes
        var o = Movement.ResizeOptions()
        opset = context.opset
        o.mode = try a.string("mode", "nearest")
        if context.opset < 11 {
            o.coordinateTransformationMode = "asymmetric"
            o.nearestMode = "simple"
        } else {
            o.coordinateTransformationMode = try a.string("coordinate_transformation_mode", "half_pixel")
            o.nearestMode = try a.string("nearest_mode", "round_prefer_floor")
            o.cubicCoeffA = Double(try a.float("cubic_coeff_a", -0.75))
            o.excludeOutside = try a.int("exclude_outside", 0) != 0
            o.extrapolationValue = Double(try a.float("extrapolation_value", 0))
            o.antialias = try a.int("antialias", 0) != 0
        }
        try o.validate()
        options = o
        axes = try a.ints("axes")
        keepAspectRatioPolicy = try a.string("keep_aspect_ratio_policy", "stretch")
    }

    /// Input positions of roi, scales and sizes for this opset.
    var slots: (roi: Int?, scales: Int, sizes: Int?) { opset < 11 ? (nil, 1, nil) : (1, 2, 3) }

    func target(_ shape: [Int], _ values: [Tensor?], known: Bool) throws -> (shape: [Int], scales: [Double]) {
        func value(_ i: Int?) -> Tensor? { i.flatMap { $0 < values.count ? values[$0] : nil } }
        let scales = value(slots.scales).flatMap { $0.count > 0 ? $0 : nil }
        let sizes = value(slots.sizes).flatMap { $0.count > 0 ? $0 : nil }
        guard scales != nil || sizes != nil else {
            throw known ? LoupeError.invalid("Resize has neither 'scales' nor 'sizes'")
                : LoupeError.unsupported("Resize needs a constant 'scales' or 'sizes' input")
        }
        return try Movement.resizeTarget(
            shape, scales: sizes == nil ? scales?.floatValues : nil,
            sizes: try sizes.map { try Movement.ints($0, "sizes") }, axes: axes, policy: keepAspectRatioPolicy)
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        return [TensorType(x.dtype, try target(x.shape, constants, known: false).shape)]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        let (shape, scales) = try target(x.shape, inputs, known: true)
        return [try Movement.resize(x, to: shape, scales: scales, roi: try roi(x.rank, inputs), options)]
    }

    /// Backward: the transpose of the resampling for X (nearest: each input element receives
    /// the gradients of the outputs that copied it; linear and cubic: Σ weight·g over the outputs
    /// that read it). None for roi, scales and sizes.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        guard wanted.first == true else { return Movement.onlyFirst(nil, inputs.count) }
        let x = try required(inputs, 0)
        let (shape, scales) = try target(x.shape, inputs, known: true)
        let g = try Movement.gradient(gradients, 0, shape: shape)
        let dx = try Movement.resizeBackward(g, inShape: x.shape, scales: scales, roi: try roi(x.rank, inputs), options)
        return Movement.onlyFirst(dx, inputs.count)
    }

    /// The roi input as [starts…, ends…] over every axis (nil when absent or empty).
    func roi(_ rank: Int, _ inputs: [Tensor?]) throws -> [Double]? {
        guard let i = slots.roi, i < inputs.count, let t = inputs[i], t.count > 0 else { return nil }
        let given = t.floatValues.map(Double.init)
        guard let axes else { return given }
        // Expand an roi given for `axes` to every axis (start 0, end 1 elsewhere).
        let ax = try Movement.axes(axes, rank: rank)
        guard given.count == 2 * ax.count else {
            throw LoupeError.invalid("Resize roi has \(given.count) values for axes \(axes)")
        }
        var full = [Double](repeating: 0, count: rank) + [Double](repeating: 1, count: rank)
        for (k, d) in ax.enumerated() {
            full[d] = given[k]
            full[rank + d] = given[ax.count + k]
        }
        return full
    }
}
