import LoupeTensor

/// Upsample (deprecated since opset 10, still in older models): out length floor(in·scale)
/// per axis, asymmetric coordinates (input x = output x / scale), `mode` nearest (floor) or
/// linear ("bilinear" in opset 1). Scales: `height_scale`/`width_scale` attributes on the last
/// two axes (opset 1), a `scales` attribute (opset 7), input 1 (opset 9).
public struct Upsample: Operator {
    public static let opType = "Upsample"
    let options: Movement.ResizeOptions
    let scalesAttribute: [Float]?
    let legacyScales: (Float, Float)?

    public init(_ context: OpContext) throws {
        let a = context.attributes
        var o = Movement.ResizeOptions()
        let mode = try a.string("mode", "nearest")
        o.mode = mode == "bilinear" ? "linear" : mode
        o.coordinateTransformationMode = "asymmetric"
        o.nearestMode = "simple"
        guard o.mode == "nearest" || o.mode == "linear" else { throw LoupeError.unsupported("Upsample mode '\(mode)'") }
        options = o
        scalesAttribute = context.opset < 9 ? try a.floats("scales") : nil
        if context.opset < 7, a.has("height_scale") || a.has("width_scale") {
            legacyScales = (try a.float("height_scale", 1), try a.float("width_scale", 1))
        } else {
            legacyScales = nil
        }
    }

    func target(_ shape: [Int], _ values: [Tensor?]) throws -> (shape: [Int], scales: [Double]) {
        var scales: [Float]
        if let (h, w) = legacyScales {
            guard shape.count >= 2 else { throw LoupeError.shape("Upsample (opset 1) needs rank ≥ 2, got \(describe(shape))") }
            scales = [Float](repeating: 1, count: shape.count - 2) + [h, w]
        } else if let s = scalesAttribute {
            scales = s
        } else if values.count > 1, let t = values[1] {
            scales = t.floatValues
        } else {
            throw LoupeError.unsupported("Upsample needs a constant 'scales' input")
        }
        return try Movement.resizeTarget(shape, scales: scales, sizes: nil, axes: nil)
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        return [TensorType(x.dtype, try target(x.shape, constants).shape)]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        let (shape, scales) = try target(x.shape, inputs)
        return [try Movement.resize(x, to: shape, scales: scales, roi: nil, options)]
    }

    /// Backward: the transpose of the resampling for X (nearest: each input element receives
    /// the gradients of the outputs that copied it; linear: Σ weight·g over the outputs that
    /// read it). None for `scales`.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        guard wanted.first == true else { return Movement.onlyFirst(nil, inputs.count) }
        let x = try required(inputs, 0)
        let (shape, scales) = try target(x.shape, inputs)
        let g = try Movement.gradient(gradients, 0, shape: shape)
        let dx = try Movement.resizeBackward(g, inShape: x.shape, scales: scales, roi: nil, options)
        return Movement.onlyFirst(dx, inputs.count)
    }
}
