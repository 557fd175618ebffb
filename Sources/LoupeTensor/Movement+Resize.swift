// The N-D resampling engine of the Resize and Upsample ops: every ONNX coordinate mode,
// nearest / linear / cubic, antialias, exclude_outside, and its adjoint. Bilinear resizing of
// images and maps (`Bilinear`, Resample2D.swift) runs `resamplePass` with torch's taps.

extension Movement {
    /// How Resize maps output coordinates to input ones and weighs the neighbours, with the ONNX
    /// attribute names and values.
    public struct ResizeOptions: Sendable {
        public init() {}

        /// "nearest", "linear" or "cubic".
        public var mode = "nearest"
        /// half_pixel, half_pixel_symmetric, pytorch_half_pixel, align_corners, asymmetric,
        /// tf_half_pixel_for_nn, tf_crop_and_resize.
        public var coordinateTransformationMode = "half_pixel"
        /// round_prefer_floor, round_prefer_ceil, floor, ceil; "simple" = floor when upsampling
        /// and ceil when downsampling (Upsample and opset-10 Resize, as onnxruntime does).
        public var nearestMode = "round_prefer_floor"
        public var cubicCoeffA = -0.75
        public var excludeOutside = false
        public var extrapolationValue = 0.0
        public var antialias = false

        public func validate() throws {
            guard ["nearest", "linear", "cubic"].contains(mode) else { throw LoupeError.unsupported("Resize mode '\(mode)'") }
            let modes = ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
                         "tf_half_pixel_for_nn", "tf_crop_and_resize"]
            guard modes.contains(coordinateTransformationMode) else {
                throw LoupeError.unsupported("Resize coordinate_transformation_mode '\(coordinateTransformationMode)'")
            }
            guard ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple"].contains(nearestMode) else {
                throw LoupeError.unsupported("Resize nearest_mode '\(nearestMode)'")
            }
            if antialias && mode == "nearest" { throw LoupeError.unsupported("Resize antialias with mode 'nearest'") }
        }
    }

    /// Input coordinate of output position `j` along an axis (nil: outside the crop, for
    /// tf_crop_and_resize). `roi` is this axis' (start, end).
    public static func sourceCoordinate(
        _ j: Int, inLength n: Int, outLength: Int, scale: Double, roi: (Double, Double), _ o: ResizeOptions
    ) -> Double? {
        let x = Double(j)
        let outWidth = scale * Double(n)
        switch o.coordinateTransformationMode {
        case "asymmetric":
            return x / scale
        case "align_corners":
            return outWidth == 1 ? 0 : x * Double(n - 1) / (outWidth - 1)
        case "pytorch_half_pixel":
            return outWidth == 1 ? -0.5 : (x + 0.5) / scale - 0.5
        case "tf_half_pixel_for_nn":
            return (x + 0.5) / scale
        case "half_pixel_symmetric":
            let adjustment = Double(outLength) / outWidth
            let offset = Double(n) / 2 * (1 - adjustment)
            return offset + (x + 0.5) / scale - 0.5
        case "tf_crop_and_resize":
            let (a, b) = roi
            var v = outWidth == 1 ? (b - a) * Double(n - 1) / 2 : x * (b - a) * Double(n - 1) / (outWidth - 1)
            v += a * Double(n - 1)
            return v < 0 || v > Double(n - 1) ? nil : v
        default:
            return (x + 0.5) / scale - 0.5
        }
    }

    /// Splits a coordinate as the ONNX reference does: i0 < x ≤ i0 + 1, ratio = x - i0 ∈ (0, 1].
    @inline(__always)
    public static func split(_ x: Double) -> (Int, Double) {
        let f = x.rounded(.down)
        return f == x ? (Int(f) - 1, 1) : (Int(f), x - f)
    }

    /// Nearest-neighbour source index for each output position of one axis (-1 = extrapolate).
    static func nearestMap(inLength n: Int, outLength: Int, scale: Double, roi: (Double, Double), _ o: ResizeOptions) -> [Int] {
        (0..<outLength).map { j in
            guard let x = sourceCoordinate(j, inLength: n, outLength: outLength, scale: scale, roi: roi, o) else { return -1 }
            let (i0, ratio) = split(x)
            var i: Int
            switch o.nearestMode {
            case "round_prefer_ceil": i = ratio < 0.5 ? i0 : i0 + 1
            case "floor": i = ratio == 1 ? i0 + 1 : i0
            case "ceil": i = i0 + 1
            case "simple": i = scale < 1 ? i0 + 1 : (ratio == 1 ? i0 + 1 : i0)
            default: i = ratio <= 0.5 ? i0 : i0 + 1
            }
            return min(max(i, 0), n - 1)
        }
    }

    /// Interpolation taps of one axis: `count` (clamped index, weight) pairs per output position.
    struct Taps {
        var count: Int
        var index: [Int]
        var weight: [Float]
        var outside: [Bool]

        /// True when the taps reproduce the input (same length, each output its own input).
        var isIdentity: Bool {
            let n = outside.count
            for j in 0..<n {
                if outside[j] { return false }
                for k in 0..<count {
                    let w = weight[j * count + k], i = index[j * count + k]
                    if w != 0 && !(w == 1 && i == j) { return false }
                }
            }
            return true
        }
    }

    /// Linear or cubic taps (with antialias and exclude_outside as the ONNX reference defines them).
    static func interpolationTaps(inLength n: Int, outLength: Int, scale: Double, roi: (Double, Double), _ o: ResizeOptions) -> Taps {
        let cubic = o.mode == "cubic"
        let radius = cubic ? 2.0 : 1.0
        let s = o.antialias ? min(scale, 1) : 1
        let start = Int((-radius / s).rounded(.down)) + 1
        let k = 2 - 2 * start
        let a = o.cubicCoeffA
        func kernel(_ t: Double) -> Double {
            let x = abs(t)
            if !cubic { return max(0, 1 - x) }
            if x <= 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
            return 0
        }
        var taps = Taps(count: k, index: [Int](repeating: 0, count: outLength * k),
                        weight: [Float](repeating: 0, count: outLength * k),
                        outside: [Bool](repeating: false, count: outLength))
        var w = [Double](repeating: 0, count: k)
        for j in 0..<outLength {
            guard let x = sourceCoordinate(j, inLength: n, outLength: outLength, scale: scale, roi: roi, o) else {
                taps.outside[j] = true
                continue
            }
            let (i0, ratio) = split(x)
            var sum = 0.0
            for t in 0..<k {
                w[t] = kernel((Double(start + t) - ratio) * s)
                sum += w[t]
            }
            if o.antialias && sum != 0 { for t in 0..<k { w[t] /= sum } }
            if o.excludeOutside {
                sum = 0
                for t in 0..<k {
                    let i = i0 + start + t
                    if i < 0 || i >= n { w[t] = 0 }
                    sum += w[t]
                }
                if sum != 0 { for t in 0..<k { w[t] /= sum } }
            }
            for t in 0..<k {
                taps.index[j * k + t] = min(max(i0 + start + t, 0), n - 1)
                taps.weight[j * k + t] = Float(w[t])
            }
        }
        return taps
    }

    /// One separable pass over a float buffer viewed as [outer, inLength, inner]:
    /// dst[o, j, :] = Σ_t weight[j,t] · src[o, index[j,t], :] (or `fill` outside the crop).
    static func resamplePass(
        _ src: UnsafePointer<Float>, outer: Int, inLength: Int, inner: Int, taps: Taps, fill: Float,
        into dst: UnsafeMutablePointer<Float>
    ) {
        let outLength = taps.outside.count, k = taps.count
        taps.index.withUnsafeBufferPointer { index in
            taps.weight.withUnsafeBufferPointer { weight in
                for o in 0..<outer {
                    let s = src + o * inLength * inner
                    for j in 0..<outLength {
                        let d = dst + (o * outLength + j) * inner
                        if taps.outside[j] {
                            d.update(repeating: fill, count: inner)
                            continue
                        }
                        if inner == 1 {
                            var acc: Float = 0
                            for t in 0..<k { acc += weight[j * k + t] * s[index[j * k + t]] }
                            d[0] = acc
                            continue
                        }
                        let w0 = weight[j * k], r0 = s + index[j * k] * inner
                        for i in 0..<inner { d[i] = w0 * r0[i] }
                        for t in 1..<max(k, 1) {
                            let w = weight[j * k + t]
                            if w == 0 { continue }
                            let r = s + index[j * k + t] * inner
                            for i in 0..<inner { d[i] += w * r[i] }
                        }
                    }
                }
            }
        }
    }

    /// Resizes `x` to `outShape` (per-axis `scales` as from `resizeTarget`; `roi` = [starts…,
    /// ends…] for tf_crop_and_resize). Nearest works on every dtype, linear and cubic on floats.
    public static func resize(_ x: Tensor, to outShape: [Int], scales: [Double], roi: [Double]?, _ o: ResizeOptions) throws -> Tensor {
        let r = x.rank
        if o.coordinateTransformationMode == "tf_crop_and_resize" && (roi?.count ?? 0) != 2 * r {
            throw LoupeError.invalid("Resize with tf_crop_and_resize needs an roi of \(2 * r) values, got \(roi ?? [])")
        }
        func roiOf(_ d: Int) -> (Double, Double) { roi.map { $0.count == 2 * r ? ($0[d], $0[r + d]) : (0, 1) } ?? (0, 1) }
        for d in 0..<r where x.shape[d] == 0 && outShape[d] > 0 {
            throw LoupeError.shape("Resize cannot grow the empty axis \(d) of \(describe(x.shape))")
        }
        if outShape.contains(0) || x.count == 0 { return try Tensor(zeros: outShape, dtype: x.dtype) }
        if o.mode == "nearest" {
            let maps = (0..<r).map { d in
                nearestMap(inLength: x.shape[d], outLength: outShape[d], scale: scales[d], roi: roiOf(d), o)
            }
            if maps.enumerated().allSatisfy({ d, m in m == Array(0..<x.shape[d]) }) { return x }
            return try gatherAxes(x, maps: maps, fill: o.extrapolationValue)
        }
        guard x.isFloat else {
            throw LoupeError.unsupported("Resize mode '\(o.mode)' on \(x.dtype.name) data (only float)")
        }
        var current = x
        for d in (0..<r).reversed() {
            let taps = interpolationTaps(inLength: x.shape[d], outLength: outShape[d], scale: scales[d], roi: roiOf(d), o)
            if outShape[d] == x.shape[d] && taps.isIdentity { continue }
            var shape = current.shape
            shape[d] = outShape[d]
            let outer = Movement.product(shape, 0..<d), inner = Movement.product(shape, (d + 1)..<r)
            let src = current
            current = try src.floats.withUnsafeBufferPointer { ps in
                try Tensor(shape: shape) { dst in
                    resamplePass(ps.baseAddress!, outer: outer, inLength: x.shape[d], inner: inner, taps: taps,
                                 fill: Float(o.extrapolationValue), into: dst.baseAddress!)
                }
            }
            current.dtype = x.dtype
        }
        return current
    }

    // MARK: - Backward

    /// Gradient of `resize` with respect to its input of shape `inShape`, given the output
    /// gradient `g` (same arguments as the forward call). Nearest: each input element receives
    /// the gradients of the outputs that copied it. Linear and cubic (with antialias and
    /// exclude_outside): the transposed separable passes, dx = P_{r-1}ᵀ ⋯ P_0ᵀ g, so each input
    /// element receives Σ weight·g over the outputs that read it. Positions outside the
    /// tf_crop_and_resize crop hold `extrapolation_value` and pass nothing back.
    public static func resizeBackward(_ g: Tensor, inShape: [Int], scales: [Double], roi: [Double]?, _ o: ResizeOptions) throws -> Tensor {
        let r = inShape.count
        let outShape = g.shape
        func roiOf(_ d: Int) -> (Double, Double) { roi.map { $0.count == 2 * r ? ($0[d], $0[r + d]) : (0, 1) } ?? (0, 1) }
        if outShape.contains(0) || inShape.contains(0) { return try Tensor(zeros: inShape) }
        if o.mode == "nearest" {
            let maps = (0..<r).map { d in
                nearestMap(inLength: inShape[d], outLength: outShape[d], scale: scales[d], roi: roiOf(d), o)
            }
            if maps.enumerated().allSatisfy({ d, m in m == Array(0..<inShape[d]) }) { return g }
            return try scatterAxes(g, maps: maps, into: inShape)
        }
        // Forward applied the passes from the last axis to the first; the adjoint runs them
        // transposed from the first axis to the last.
        var current = g
        for d in 0..<r {
            let taps = interpolationTaps(inLength: inShape[d], outLength: outShape[d], scale: scales[d], roi: roiOf(d), o)
            if outShape[d] == inShape[d] && taps.isIdentity { continue }
            var shape = current.shape
            shape[d] = inShape[d]
            let outer = product(shape, 0..<d), inner = product(shape, (d + 1)..<r)
            var next = try Tensor(zeros: shape)
            current.floats.withUnsafeBufferPointer { ps in
                next.floats.withUnsafeMutableBufferPointer { pd in
                    resamplePassTransposed(ps.baseAddress!, outer: outer, inLength: inShape[d], inner: inner, taps: taps,
                                           into: pd.baseAddress!)
                }
            }
            current = next
        }
        return current
    }

    /// Transpose of `resamplePass`, with src viewed as [outer, outLength, inner] and dst (zeroed
    /// by the caller) as [outer, inLength, inner]: dst[o, index[j,t], :] += weight[j,t] · src[o, j, :].
    static func resamplePassTransposed(
        _ src: UnsafePointer<Float>, outer: Int, inLength: Int, inner: Int, taps: Taps, into dst: UnsafeMutablePointer<Float>
    ) {
        let outLength = taps.outside.count, k = taps.count
        taps.index.withUnsafeBufferPointer { index in
            taps.weight.withUnsafeBufferPointer { weight in
                for o in 0..<outer {
                    let d = dst + o * inLength * inner
                    for j in 0..<outLength where !taps.outside[j] {
                        let s = src + (o * outLength + j) * inner
                        for t in 0..<k {
                            let w = weight[j * k + t]
                            if w == 0 { continue }
                            let row = d + index[j * k + t] * inner
                            if inner == 1 {
                                row[0] += w * s[0]
                            } else {
                                for i in 0..<inner { row[i] += w * s[i] }
                            }
                        }
                    }
                }
            }
        }
    }
}
