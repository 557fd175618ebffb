import LoupeTensor

/// The window attributes shared by Conv, ConvTranspose and the pooling ops, with their ONNX
/// names and defaults (`auto_pad = "NOTSET"`, `strides`/`dilations` 1, `pads` 0,
/// `kernel_shape` from W when absent, `group` 1), resolved into a `ConvGeometry`.
struct ConvAttributes: Sendable {
    var op: String
    var autoPad: String
    var kernelShape: [Int]?
    var strides: [Int]?
    var pads: [Int]?
    var dilations: [Int]?
    var group: Int
    var ceilMode: Bool

    init(_ context: OpContext, op: String) throws {
        let a = context.attributes
        self.op = op
        autoPad = try a.string("auto_pad", "NOTSET")
        if autoPad.isEmpty { autoPad = "NOTSET" }
        guard ["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"].contains(autoPad) else {
            throw LoupeError.invalid("\(op): auto_pad '\(autoPad)' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID")
        }
        kernelShape = try a.ints("kernel_shape")
        strides = try a.ints("strides")
        pads = try a.ints("pads")
        dilations = try a.ints("dilations")
        group = try a.int("group", 1)
        ceilMode = try a.int("ceil_mode", 0) != 0
        guard group >= 1 else { throw LoupeError.invalid("\(op): group \(group) must be at least 1") }
        // Bound every geometry attribute so that the size arithmetic cannot overflow.
        let limit = 1 << 31
        for (name, values) in [("kernel_shape", kernelShape), ("strides", strides), ("pads", pads), ("dilations", dilations), ("group", [group])] {
            if let v = values?.first(where: { $0 > limit || $0 < -limit }) {
                throw LoupeError(.tooLarge, "\(op): \(name) value \(v) is beyond \(limit)")
            }
        }
    }

    /// `values` checked to have one entry per spatial dimension (default `def`), all positive.
    func perDim(_ values: [Int]?, _ name: String, rank: Int, def: Int = 1) throws -> [Int] {
        guard let values else { return [Int](repeating: def, count: rank) }
        guard values.count == rank else {
            throw LoupeError.shape("\(op): \(name) \(describe(values)) should have \(rank) values, one per spatial dimension")
        }
        guard values.allSatisfy({ $0 >= 1 }) else {
            throw LoupeError.invalid("\(op): \(name) \(describe(values)) must be positive")
        }
        return values
    }

    /// Explicit pads `[begin..., end...]`, checked.
    func explicitPads(rank: Int) throws -> (begin: [Int], end: [Int]) {
        guard let pads else { return ([Int](repeating: 0, count: rank), [Int](repeating: 0, count: rank)) }
        guard pads.count == 2 * rank else {
            throw LoupeError.shape("\(op): pads \(describe(pads)) should have \(2 * rank) values for \(rank) spatial dimensions")
        }
        guard pads.allSatisfy({ $0 >= 0 }) else {
            throw LoupeError.invalid("\(op): pads \(describe(pads)) must not be negative")
        }
        return (Array(pads[0..<rank]), Array(pads[rank...]))
    }

    /// The kernel shape: the attribute, checked against `weightKernel` when both exist.
    func kernel(weightKernel: [Int]?, rank: Int) throws -> [Int] {
        if let ks = kernelShape {
            let k = try perDim(ks, "kernel_shape", rank: rank)
            if let wk = weightKernel, wk != k {
                throw LoupeError.shape("\(op): kernel_shape \(describe(k)) disagrees with W's spatial shape \(describe(wk))")
            }
            return k
        }
        guard let wk = weightKernel else {
            throw LoupeError.invalid("\(op): attribute 'kernel_shape' is required")
        }
        return wk
    }

    /// The geometry of a convolution or pooling window over `input` (spatial dimensions),
    /// with output sizes as the ONNX spec gives them:
    /// - NOTSET: `floor((in + padBegin + padEnd - ((k-1)*d+1)) / s) + 1`, or with `ceil_mode`
    ///   the ceiling, less one if the last window would start past the input and begin pad;
    /// - SAME_UPPER/SAME_LOWER: `ceil(in / s)`, total pad `(out-1)*s + (k-1)*d+1 - in`
    ///   split with the odd unit at the end (UPPER) or the beginning (LOWER);
    /// - VALID: no pads, `floor((in - ((k-1)*d+1)) / s) + 1`.
    func geometry(input: [Int], kernel: [Int], useCeil: Bool = false) throws -> ConvGeometry {
        let r = input.count
        let s = try perDim(strides, "strides", rank: r)
        let d = try perDim(dilations, "dilations", rank: r)
        var (pb, pe) = try explicitPads(rank: r)
        var out = [Int](repeating: 0, count: r)
        for i in 0..<r {
            let span = (kernel[i] - 1) * d[i] + 1
            switch autoPad {
            case "SAME_UPPER", "SAME_LOWER":
                out[i] = ceilDivide(input[i], s[i])
                let total = max(0, (out[i] - 1) * s[i] + span - input[i])
                pb[i] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2
                pe[i] = total - pb[i]
            case "VALID":
                pb[i] = 0; pe[i] = 0
                out[i] = floorDivide(input[i] - span, s[i]) + 1
            default:
                let extent = input[i] + pb[i] + pe[i] - span
                if useCeil && ceilMode {
                    out[i] = ceilDivide(extent, s[i]) + 1
                    if (out[i] - 1) * s[i] >= input[i] + pb[i] { out[i] -= 1 }
                } else {
                    out[i] = floorDivide(extent, s[i]) + 1
                }
            }
            guard out[i] >= 1 || input[i] == 0 else {
                throw LoupeError.shape("\(op): window \(describe(kernel)) (dilations \(describe(d))) does not fit input \(describe(input)) with pads \(describe(pb + pe)): output would be empty")
            }
            out[i] = max(out[i], 0)
        }
        return ConvGeometry(input: input, kernel: kernel, strides: s, dilations: d, padsBegin: pb, padsEnd: pe, output: out)
    }
}

func floorDivide(_ a: Int, _ b: Int) -> Int {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

func ceilDivide(_ a: Int, _ b: Int) -> Int { -floorDivide(-a, b) }

/// Checks the `[N, C, spatial...]` rank of a pooling or convolution input.
func checkImageRank(_ op: String, _ name: String, _ shape: [Int], minRank: Int = 3) throws {
    guard shape.count >= minRank else {
        throw LoupeError.shape("\(op): \(name) \(describe(shape)) should be [N, C, spatial...] with rank at least \(minRank)")
    }
}

/// Calls `body` with a pointer to the floats of `t`, or nil when `t` is nil.
func withOptionalFloats<R>(_ t: Tensor?, _ body: (UnsafePointer<Float>?) throws -> R) rethrows -> R {
    guard let t else { return try body(nil) }
    return try t.floats.withUnsafeBufferPointer { try body($0.baseAddress) }
}

/// The optional input `i` (nil when omitted or past the end).
func optionalInput(_ inputs: [Tensor?], _ i: Int) -> Tensor? { i < inputs.count ? inputs[i] : nil }
func optionalInput(_ inputs: [TensorType?], _ i: Int) -> TensorType? { i < inputs.count ? inputs[i] : nil }

extension ConvAttributes {
    /// The window of a pooling op over X `[N, C, spatial...]` (`kernel_shape` required,
    /// `ceil_mode` honoured).
    func poolGeometry(_ x: [Int]) throws -> ConvGeometry {
        try checkImageRank(op, "X", x)
        let k = try kernel(weightKernel: nil, rank: x.count - 2)
        return try geometry(input: Array(x[2...]), kernel: k, useCeil: true)
    }

    /// Runs a pooling op on X; 8- and 16-bit integer inputs (MaxPool) go through Float,
    /// which holds them exactly.
    func runPool(_ kind: PoolKind, _ x: Tensor) throws -> Tensor {
        let g = try poolGeometry(x.shape)
        let values: [Float]
        if x.isFloat {
            values = x.floats
        } else if [.uint8, .int8, .uint16, .int16].contains(x.dtype) {
            values = x.floatValues
        } else {
            throw LoupeError.unsupported("\(op): X has dtype \(x.dtype.name); only float and 8/16-bit integer inputs are supported")
        }
        let planes = x.shape[0] * x.shape[1]
        var y = try values.withUnsafeBufferPointer { px in
            try Tensor(shape: Array(x.shape[0..<2]) + g.output) { py in
                guard let yp = py.baseAddress, let xp = px.baseAddress else { return }
                pool(kind, x: xp, planes: planes, g, y: yp)
            }
        }
        if !x.isFloat {
            return Tensor(shape: y.shape, ints: y.floats.map { Int64($0) }, dtype: x.dtype)
        }
        y.dtype = x.dtype
        return y
    }

    func inferPool(_ x: TensorType) throws -> [TensorType] {
        let g = try poolGeometry(x.shape)
        return [TensorType(x.dtype, Array(x.shape[0..<2]) + g.output)]
    }
}

/// GlobalAveragePool / GlobalMaxPool: Y[N, C, 1, ...] from X[N, C, spatial...].
func globalPool(_ op: String, max: Bool, _ x: Tensor) throws -> Tensor {
    try checkImageRank(op, "X", x.shape)
    let planes = x.shape[0] * x.shape[1]
    let size = x.shape[2...].reduce(1, *)
    var y = try x.floats.withUnsafeBufferPointer { px in
        try Tensor(shape: Array(x.shape[0..<2]) + [Int](repeating: 1, count: x.shape.count - 2)) { py in
            guard let yp = py.baseAddress, let xp = px.baseAddress else { py.initialize(repeating: .nan); return }
            globalPool(max: max, x: xp, planes: planes, size: size, y: yp)
        }
    }
    y.dtype = x.dtype
    return y
}
