import LoupeTensor

/// Storage element of a tensor: `Float` for the floating dtypes, `Int64` for integers and bool.
/// The data-movement kernels below are generic over it; every call site passes a concrete type
/// (see `Movement.dispatch`), so the optimiser specialises them within this module.
protocol MovementElement: Sendable {
    static func storage(_ t: Tensor) -> [Self]
    static func tensor(_ shape: [Int], _ data: [Self], _ dtype: DType) -> Tensor
}

extension Float: MovementElement {
    static func storage(_ t: Tensor) -> [Float] { t.floats }
    static func tensor(_ shape: [Int], _ data: [Float], _ dtype: DType) -> Tensor {
        Tensor(shape: shape, floats: data, dtype: dtype)
    }
}

extension Int64: MovementElement {
    static func storage(_ t: Tensor) -> [Int64] { t.ints }
    static func tensor(_ shape: [Int], _ data: [Int64], _ dtype: DType) -> Tensor {
        Tensor(shape: shape, ints: data, dtype: dtype)
    }
}

/// Shared helpers of the shape and data-movement ops (Concat, Transpose, Slice, Pad, Resize, ...).
///
/// Every kernel works on flat row-major buffers. Two engines cover almost every op:
/// - `copyStrided`: out[i] = src[offset + Σ i_d·strides[d]] (Transpose, Slice, Expand, Tile,
///   DepthToSpace, ...), with dimensions coalesced first so that the innermost run is a block
///   copy whenever the source is contiguous there;
/// - `gatherAxes`: out[i] = src[Σ maps[d][i_d]·strides[d]], or a fill value where a map entry is
///   -1 (Pad in every mode, nearest Resize).
/// `copyStridedNaive` / `gatherAxesNaive` are the per-element references the tests compare with.
/// Their adjoints for the backward rules — `stridedAdjoint` (scatter-add through the same view) and
/// `scatterAxes` — live at the end of this file, with `resizeBackward`.
public enum Movement {
    // MARK: - Storage

    /// Allocates an uninitialised buffer of `shape`'s element count, lets `fill` write every
    /// element, and wraps it as a tensor of `dtype`.
    static func build<T: MovementElement>(
        _: T.Type, _ shape: [Int], _ dtype: DType, _ fill: (UnsafeMutablePointer<T>, Int) throws -> Void
    ) throws -> Tensor {
        let n = try Tensor.checkedCount(shape)
        let data = try [T](unsafeUninitializedCapacity: n) { buf, done in
            if n > 0 { try fill(buf.baseAddress!, n) }
            done = n
        }
        return T.tensor(shape, data, dtype)
    }

    /// Integer values of a shape-like tensor (shape, axes, pads, starts, ...); throws for floats.
    static func ints(_ t: Tensor, _ what: String) throws -> [Int] {
        guard !t.isFloat else {
            throw LoupeError.invalid("'\(what)' must be an integer tensor, got \(t.dtype.name)")
        }
        return t.ints.map { Int($0) }
    }

    /// Normalises a list of possibly negative axes against `rank`, rejecting duplicates.
    static func axes(_ axes: [Int], rank: Int, what: String = "axes") throws -> [Int] {
        var out: [Int] = []
        for a in axes {
            let n = a < 0 ? a + rank : a
            guard n >= 0, n < rank else {
                throw LoupeError.shape("\(what) value \(a) is out of range for rank \(rank)")
            }
            guard !out.contains(n) else { throw LoupeError.invalid("\(what) \(axes) repeat axis \(n)") }
            out.append(n)
        }
        return out
    }

    /// Product of `shape[range]`.
    static func product(_ shape: [Int], _ range: Range<Int>) -> Int {
        var p = 1
        for i in range { p *= shape[i] }
        return p
    }

    // MARK: - Strided copy

    /// Materialises the strided view (`shape`, `strides`, `offset`) of `x` as a new contiguous tensor.
    /// The view must lie inside `x` (checked: a view outside it is a programming error).
    public static func strided(_ x: Tensor, shape: [Int], strides: [Int], offset: Int = 0) throws -> Tensor {
        precondition(shape.count == strides.count, "Movement.strided: \(shape.count) dims, \(strides.count) strides")
        if !shape.contains(0) {
            var lo = offset, hi = offset
            for d in 0..<shape.count {
                let span = (shape[d] - 1) * strides[d]
                if span < 0 { lo += span } else { hi += span }
            }
            precondition(lo >= 0 && hi < x.count, "Movement.strided: view outside a tensor of shape \(x.shape)")
        }
        if x.isFloat {
            return try strided(Float.self, x, shape: shape, strides: strides, offset: offset)
        }
        return try strided(Int64.self, x, shape: shape, strides: strides, offset: offset)
    }

    static func strided<T: MovementElement>(
        _: T.Type, _ x: Tensor, shape: [Int], strides: [Int], offset: Int
    ) throws -> Tensor {
        let src = T.storage(x)
        return try src.withUnsafeBufferPointer { ps in
            try build(T.self, shape, x.dtype) { dst, _ in
                copyStrided(ps.baseAddress!, offset: offset, strides: strides, shape: shape, into: dst)
            }
        }
    }

    /// dst[i] = src[offset + Σ_d i_d·strides[d]] for every index i of `shape`, `dst` contiguous.
    ///
    /// Dimensions of size 1 are dropped and neighbours whose source strides nest are merged, so a
    /// transpose that keeps the inner block (ShuffleNet's channel shuffle, [N,g,C/g,H,W] →
    /// [N,C/g,g,H,W]) copies whole H·W runs. Source stride 1 copies a block, 0 repeats a value.
    static func copyStrided<T>(
        _ src: UnsafePointer<T>, offset: Int, strides: [Int], shape: [Int], into dst: UnsafeMutablePointer<T>
    ) {
        var dims: [Int] = []
        var st: [Int] = []
        for d in 0..<shape.count {
            if shape[d] == 0 { return }
            if shape[d] == 1 { continue }
            if let last = dims.last, st[st.count - 1] == strides[d] * shape[d] {
                dims[dims.count - 1] = last * shape[d]
                st[st.count - 1] = strides[d]
            } else {
                dims.append(shape[d])
                st.append(strides[d])
            }
        }
        if dims.isEmpty {
            dst.initialize(to: src[offset])
            return
        }
        let r = dims.count
        let n = dims[r - 1], s = st[r - 1]
        var idx = [Int](repeating: 0, count: r)
        var o = offset
        var out = dst
        while true {
            if s == 1 {
                out.update(from: src + o, count: n)
            } else if s == 0 {
                out.update(repeating: src[o], count: n)
            } else {
                var p = o
                for i in 0..<n { out[i] = src[p]; p += s }
            }
            out += n
            var d = r - 2
            while d >= 0 {
                idx[d] += 1
                o += st[d]
                if idx[d] < dims[d] { break }
                o -= st[d] * dims[d]
                idx[d] = 0
                d -= 1
            }
            if d < 0 { return }
        }
    }

    /// Reference for `copyStrided`: one index computation per element.
    public static func copyStridedNaive(_ x: Tensor, shape: [Int], strides: [Int], offset: Int = 0) -> Tensor {
        let n = shape.reduce(1, *)
        let outStrides = contiguousStrides(shape)
        var index = [Int](repeating: 0, count: n)
        for i in 0..<n {
            var p = offset
            for d in 0..<shape.count { p += (i / outStrides[d]) % shape[d] * strides[d] }
            index[i] = p
        }
        return x.gathering(index, shape: shape)
    }

    // MARK: - Per-axis gather

    /// out[i] = x[maps[0][i_0], …, maps[r-1][i_{r-1}]], or `fill` where any map entry is -1.
    /// The output shape is `maps.map(\.count)`.
    /// Map entries must be -1 or valid indices of `x` (checked: anything else is a programming error).
    public static func gatherAxes(_ x: Tensor, maps: [[Int]], fill: Double = 0) throws -> Tensor {
        precondition(maps.count == x.rank && zip(maps, x.shape).allSatisfy { m, n in m.allSatisfy { $0 >= -1 && $0 < n } },
                     "Movement.gatherAxes: maps do not fit a tensor of shape \(x.shape)")
        let shape = maps.map(\.count)
        let strides = contiguousStrides(x.shape)
        if x.isFloat {
            return try x.floats.withUnsafeBufferPointer { ps in
                try build(Float.self, shape, x.dtype) { dst, _ in
                    gatherAxes(ps.baseAddress!, strides: strides, maps: maps, fill: Float(fill), into: dst)
                }
            }
        }
        let f = x.dtype.wrap(Int64(exactly: fill.rounded(.towardZero)) ?? 0)
        return try x.ints.withUnsafeBufferPointer { ps in
            try build(Int64.self, shape, x.dtype) { dst, _ in
                gatherAxes(ps.baseAddress!, strides: strides, maps: maps, fill: f, into: dst)
            }
        }
    }

    /// Kernel of `gatherAxes`. The innermost map is split once into runs (consecutive source
    /// elements copied as a block, or fill); each outer row then replays the runs.
    static func gatherAxes<T>(
        _ src: UnsafePointer<T>, strides: [Int], maps: [[Int]], fill: T, into dst: UnsafeMutablePointer<T>
    ) {
        let r = maps.count
        if r == 0 { dst.initialize(to: src[0]); return }
        if maps.contains(where: \.isEmpty) { return }
        // Runs of the innermost axis: (output start, source start or -1, length).
        let inner = maps[r - 1]
        let innerStride = strides[r - 1]
        var runs: [(Int, Int, Int)] = []
        for (j, m) in inner.enumerated() {
            if let last = runs.last {
                let (o, s, n) = last
                if (m < 0 && s < 0) || (m >= 0 && s >= 0 && innerStride == 1 && m == s + n) {
                    runs[runs.count - 1] = (o, s, n + 1)
                    continue
                }
            }
            runs.append((j, m < 0 ? -1 : m, 1))
        }
        let manyRuns = runs.count * 4 > inner.count
        let width = inner.count
        var idx = [Int](repeating: 0, count: max(r - 1, 0))
        var out = dst
        var previous = -2   // source base of the previous row (-1: a filled row)
        while true {
            var base = 0
            for d in 0..<(r - 1) {
                let m = maps[d][idx[d]]
                if m < 0 { base = -1; break }
                base += m * strides[d]
            }
            let filled = base < 0
            if base == previous {
                // Same source row as the one just written (nearest upsampling, edge padding).
                out.update(from: out - width, count: width)
            } else if filled {
                out.update(repeating: fill, count: width)
            } else if manyRuns {
                for j in 0..<width {
                    let m = inner[j]
                    out[j] = m < 0 ? fill : src[base + m * innerStride]
                }
            } else {
                for (o, s, n) in runs {
                    if s < 0 {
                        (out + o).update(repeating: fill, count: n)
                    } else if n == 1 {
                        out[o] = src[base + s * innerStride]
                    } else {
                        (out + o).update(from: src + base + s, count: n)
                    }
                }
            }
            previous = base
            out += width
            var d = r - 2
            while d >= 0 {
                idx[d] += 1
                if idx[d] < maps[d].count { break }
                idx[d] = 0
                d -= 1
            }
            if d < 0 { return }
        }
    }

    /// Reference for `gatherAxes`.
    public static func gatherAxesNaive(_ x: Tensor, maps: [[Int]], fill: Double = 0) -> Tensor {
        let shape = maps.map(\.count)
        let n = shape.reduce(1, *)
        let inStrides = contiguousStrides(x.shape), outStrides = contiguousStrides(shape)
        var fl: [Float] = [], it: [Int64] = []
        for i in 0..<n {
            var p = 0
            for d in 0..<shape.count {
                let m = maps[d][(i / outStrides[d]) % shape[d]]
                if m < 0 { p = -1; break }
                p += m * inStrides[d]
            }
            if x.isFloat { fl.append(p < 0 ? Float(fill) : x.floats[p]) } else { it.append(p < 0 ? Int64(fill) : x.ints[p]) }
        }
        return x.isFloat ? Tensor(shape: shape, floats: fl, dtype: x.dtype) : Tensor(shape: shape, ints: it, dtype: x.dtype)
    }

    // MARK: - Axis blocks

    /// Copies `x[..., start ..< start+length, ...]` along `axis` (one block copy per outer index).
    static func sliceAxis(_ x: Tensor, axis: Int, start: Int, length: Int) throws -> Tensor {
        var shape = x.shape
        shape[axis] = length
        return try strided(x, shape: shape, strides: contiguousStrides(x.shape),
                           offset: start * product(x.shape, (axis + 1)..<x.rank))
    }
}

// MARK: - Resampling (Resize, Upsample)

extension Movement {
    /// How Resize maps output coordinates to input ones and weighs the neighbours, with the ONNX
    /// attribute names and values.
    struct ResizeOptions: Sendable {
        /// "nearest", "linear" or "cubic".
        var mode = "nearest"
        /// half_pixel, half_pixel_symmetric, pytorch_half_pixel, align_corners, asymmetric,
        /// tf_half_pixel_for_nn, tf_crop_and_resize.
        var coordinateTransformationMode = "half_pixel"
        /// round_prefer_floor, round_prefer_ceil, floor, ceil; "simple" = floor when upsampling
        /// and ceil when downsampling (Upsample and opset-10 Resize, as onnxruntime does).
        var nearestMode = "round_prefer_floor"
        var cubicCoeffA = -0.75
        var excludeOutside = false
        var extrapolationValue = 0.0
        var antialias = false

        func validate() throws {
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

    /// Output shape and per-axis scales of a Resize, from `scales` or `sizes` given for `axes`
    /// (all axes when nil), with `keep_aspect_ratio_policy` applied to `sizes`.
    /// Output length = floor(in·scale) for scales; scale = out/in for sizes.
    static func resizeTarget(
        _ shape: [Int], scales: [Float]?, sizes: [Int]?, axes: [Int]?, policy: String = "stretch"
    ) throws -> (shape: [Int], scales: [Double]) {
        let r = shape.count
        let ax = try Movement.axes(axes ?? Array(0..<r), rank: r)
        var outShape = shape
        var sc = [Double](repeating: 1, count: r)
        if let sizes {
            guard sizes.count == ax.count, sizes.allSatisfy({ $0 >= 0 }) else {
                throw LoupeError.invalid("Resize sizes \(sizes) do not fit input \(describe(shape)) and axes \(ax)")
            }
            for (k, d) in ax.enumerated() {
                outShape[d] = sizes[k]
                sc[d] = shape[d] == 0 ? 1 : Double(sizes[k]) / Double(shape[d])
            }
            if policy != "stretch" {
                guard policy == "not_larger" || policy == "not_smaller" else {
                    throw LoupeError.unsupported("Resize keep_aspect_ratio_policy '\(policy)'")
                }
                let chosen = ax.map { sc[$0] }
                let s = (policy == "not_larger" ? chosen.min() : chosen.max()) ?? 1
                for d in ax {
                    sc[d] = s
                    outShape[d] = Int((s * Double(shape[d]) + 0.5).rounded(.down))
                }
            }
        } else if let scales {
            guard scales.count == ax.count, scales.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                throw LoupeError.invalid("Resize scales \(scales) do not fit input \(describe(shape)) and axes \(ax)")
            }
            for (k, d) in ax.enumerated() {
                sc[d] = Double(scales[k])
                let n = (sc[d] * Double(shape[d])).rounded(.down)
                guard n < Double(Tensor.maxElements) else {
                    throw LoupeError(.tooLarge, "Resize of \(describe(shape)) by \(scales) is too large")
                }
                outShape[d] = Int(n)
            }
        } else {
            throw LoupeError.invalid("Resize needs 'scales' or 'sizes'")
        }
        try Tensor.checkedCount(outShape)
        return (outShape, sc)
    }

    /// Input coordinate of output position `j` along an axis (nil: outside the crop, for
    /// tf_crop_and_resize). `roi` is this axis' (start, end).
    static func sourceCoordinate(
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
    static func split(_ x: Double) -> (Int, Double) {
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
    static func resize(_ x: Tensor, to outShape: [Int], scales: [Double], roi: [Double]?, _ o: ResizeOptions) throws -> Tensor {
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
}

// MARK: - Backward (adjoints of the kernels above)

extension Movement {
    /// The gradient of output `i` as a float32 tensor of `shape`; a nil gradient (the output does
    /// not reach the objective) is zero.
    static func gradient(_ gradients: [Tensor?], _ i: Int, shape: [Int]) throws -> Tensor {
        guard i < gradients.count, let g = gradients[i] else { return try Tensor(zeros: shape) }
        guard g.shape == shape, g.isFloat else {
            throw LoupeError.shape("gradient of output \(i) has shape \(describe(g.shape)) (\(g.dtype.name)); the output has \(describe(shape))")
        }
        if g.dtype == .float32 { return g }
        return Tensor(shape: shape, floats: g.floats)
    }

    /// Backward result of an op whose only differentiable input is the first: `g` for input 0,
    /// nil for the other `count - 1` inputs (shapes, axes, indices, ...).
    static func onlyFirst(_ g: Tensor?, _ count: Int) -> [Tensor?] {
        [g] + [Tensor?](repeating: nil, count: max(count - 1, 0))
    }

    /// The same gradient values seen with the input's shape (Reshape, Flatten, Squeeze, ...).
    static func reshapedGradient(_ gradients: [Tensor?], output: Tensor, input: Tensor) throws -> Tensor {
        try gradient(gradients, 0, shape: output.shape).reshaped(input.shape)
    }

    /// Adjoint of `strided`: a float32 tensor of `shape` holding, at offset + Σ i_d·strides[d],
    /// the sum of every `g[i]` that the strided view read from there (zero elsewhere). Views that
    /// read an element several times (stride 0: Expand, Tile) accumulate.
    static func stridedAdjoint(_ g: Tensor, into shape: [Int], strides: [Int], offset: Int = 0) throws -> Tensor {
        precondition(g.shape.count == strides.count, "Movement.stridedAdjoint: \(g.shape.count) dims, \(strides.count) strides")
        var out = try Tensor(zeros: shape)
        if g.count == 0 { return out }
        var lo = offset, hi = offset
        for d in 0..<g.rank {
            let span = (g.shape[d] - 1) * strides[d]
            if span < 0 { lo += span } else { hi += span }
        }
        precondition(lo >= 0 && hi < out.count, "Movement.stridedAdjoint: view outside a tensor of shape \(shape)")
        g.floats.withUnsafeBufferPointer { pg in
            out.floats.withUnsafeMutableBufferPointer { po in
                addStrided(pg.baseAddress!, shape: g.shape, into: po.baseAddress!, offset: offset, strides: strides)
            }
        }
        return out
    }

    /// dst[offset + Σ_d i_d·strides[d]] += src[i] for every index i of `shape`, `src` contiguous:
    /// the transpose of `copyStrided`, with the same coalescing of dimensions.
    static func addStrided(
        _ src: UnsafePointer<Float>, shape: [Int], into dst: UnsafeMutablePointer<Float>, offset: Int, strides: [Int]
    ) {
        var dims: [Int] = []
        var st: [Int] = []
        for d in 0..<shape.count {
            if shape[d] == 0 { return }
            if shape[d] == 1 { continue }
            if let last = dims.last, st[st.count - 1] == strides[d] * shape[d] {
                dims[dims.count - 1] = last * shape[d]
                st[st.count - 1] = strides[d]
            } else {
                dims.append(shape[d])
                st.append(strides[d])
            }
        }
        if dims.isEmpty {
            dst[offset] += src[0]
            return
        }
        let r = dims.count
        let n = dims[r - 1], s = st[r - 1]
        var idx = [Int](repeating: 0, count: r)
        var o = offset
        var input = src
        while true {
            if s == 1 {
                let d = dst + o
                for i in 0..<n { d[i] += input[i] }
            } else if s == 0 {
                var acc: Float = 0
                for i in 0..<n { acc += input[i] }
                dst[o] += acc
            } else {
                var p = o
                for i in 0..<n { dst[p] += input[i]; p += s }
            }
            input += n
            var d = r - 2
            while d >= 0 {
                idx[d] += 1
                o += st[d]
                if idx[d] < dims[d] { break }
                o -= st[d] * dims[d]
                idx[d] = 0
                d -= 1
            }
            if d < 0 { return }
        }
    }

    /// Reference for `stridedAdjoint`: one index computation per element.
    static func stridedAdjointNaive(_ g: Tensor, into shape: [Int], strides: [Int], offset: Int = 0) -> Tensor {
        var out = [Float](repeating: 0, count: shape.reduce(1, *))
        let gs = contiguousStrides(g.shape)
        for i in 0..<g.count {
            var p = offset
            for d in 0..<g.rank { p += (i / gs[d]) % g.shape[d] * strides[d] }
            out[p] += g.floats[i]
        }
        return Tensor(shape: shape, floats: out)
    }

    /// Adjoint of `gatherAxes`: a float32 tensor of `shape` where each element receives the sum of
    /// the gradients of every output that copied it (positions mapped to -1 were the fill value
    /// and pass nothing back). `g.shape` must be `maps.map(\.count)`.
    static func scatterAxes(_ g: Tensor, maps: [[Int]], into shape: [Int]) throws -> Tensor {
        precondition(maps.count == shape.count && g.shape == maps.map(\.count)
                     && zip(maps, shape).allSatisfy { m, n in m.allSatisfy { $0 >= -1 && $0 < n } },
                     "Movement.scatterAxes: maps do not fit \(shape)")
        var out = try Tensor(zeros: shape)
        let r = maps.count
        if g.count == 0 { return out }
        if r == 0 { out.floats[0] = g.floats[0]; return out }
        let strides = contiguousStrides(shape)
        let inner = maps[r - 1], innerStride = strides[r - 1], width = inner.count
        g.floats.withUnsafeBufferPointer { pg in
            out.floats.withUnsafeMutableBufferPointer { po in
                inner.withUnsafeBufferPointer { pm in
                    let dst = po.baseAddress!
                    var src = pg.baseAddress!
                    var idx = [Int](repeating: 0, count: r - 1)
                    while true {
                        var base = 0
                        for d in 0..<(r - 1) {
                            let m = maps[d][idx[d]]
                            if m < 0 { base = -1; break }
                            base += m * strides[d]
                        }
                        if base >= 0 {
                            for j in 0..<width where pm[j] >= 0 { dst[base + pm[j] * innerStride] += src[j] }
                        }
                        src += width
                        var d = r - 2
                        while d >= 0 {
                            idx[d] += 1
                            if idx[d] < maps[d].count { break }
                            idx[d] = 0
                            d -= 1
                        }
                        if d < 0 { return }
                    }
                }
            }
        }
        return out
    }

    /// Adjoint of a blockwise gather along an axis (Gather): with x viewed as [outer, n, inner]
    /// and g as [outer, idx.count, inner], dx[o, idx[k], :] += g[o, k, :]. Repeated indices add.
    static func scatterBlocks(_ g: Tensor, indices idx: [Int], into shape: [Int], axis a: Int) throws -> Tensor {
        var out = try Tensor(zeros: shape)
        let outer = product(shape, 0..<a), inner = product(shape, (a + 1)..<shape.count), n = shape[a]
        if out.count == 0 || g.count == 0 { return out }
        g.floats.withUnsafeBufferPointer { pg in
            out.floats.withUnsafeMutableBufferPointer { po in
                var src = pg.baseAddress!
                for o in 0..<outer {
                    let base = po.baseAddress! + o * n * inner
                    for j in idx {
                        let d = base + j * inner
                        for i in 0..<inner { d[i] += src[i] }
                        src += inner
                    }
                }
            }
        }
        return out
    }
}

// MARK: - Resampling backward

extension Movement {
    /// Gradient of `resize` with respect to its input of shape `inShape`, given the output
    /// gradient `g` (same arguments as the forward call). Nearest: each input element receives
    /// the gradients of the outputs that copied it. Linear and cubic (with antialias and
    /// exclude_outside): the transposed separable passes, dx = P_{r-1}ᵀ ⋯ P_0ᵀ g, so each input
    /// element receives Σ weight·g over the outputs that read it. Positions outside the
    /// tf_crop_and_resize crop hold `extrapolation_value` and pass nothing back.
    static func resizeBackward(_ g: Tensor, inShape: [Int], scales: [Double], roi: [Double]?, _ o: ResizeOptions) throws -> Tensor {
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
