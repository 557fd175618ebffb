// Per-axis gathers (Pad in every mode, nearest Resize) and their adjoints, with the
// per-element reference; the blockwise scatter of Gather's backward.

extension Movement {
    /// Blockwise gather along axis `a` (Gather): with x viewed as [outer, n, inner], out[o, k, :] =
    /// x[o, idx[k], :], one block copy per (o, k). `idx` must hold valid indices of axis `a`;
    /// `shape` is the output shape (outer dims + the indices' shape + inner dims).
    public static func gatherBlocks(_ x: Tensor, indices idx: [Int], axis a: Int, shape: [Int]) throws -> Tensor {
        precondition(idx.allSatisfy { $0 >= 0 && $0 < x.shape[a] }, "gatherBlocks: indices outside axis \(a) of \(x.shape)")
        if x.isFloat { return try gatherBlocks(Float.self, x, idx, shape, a) }
        return try gatherBlocks(Int64.self, x, idx, shape, a)
    }

    static func gatherBlocks<T: MovementElement>(_: T.Type, _ x: Tensor, _ idx: [Int], _ shape: [Int], _ a: Int) throws -> Tensor {
        let outer = product(x.shape, 0..<a)
        let inner = product(x.shape, (a + 1)..<x.rank)
        let n = x.shape[a]
        return try T.storage(x).withUnsafeBufferPointer { p in
            try build(T.self, shape, x.dtype) { dst, _ in
                guard let src = p.baseAddress else { return }
                var out = dst
                for o in 0..<outer {
                    let base = src + o * n * inner
                    if inner == 1 {
                        for j in idx { out.initialize(to: base[j]); out += 1 }
                    } else {
                        for j in idx { out.update(from: base + j * inner, count: inner); out += inner }
                    }
                }
            }
        }
    }

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

    // MARK: - Adjoints

    /// Adjoint of `gatherAxes`: a float32 tensor of `shape` where each element receives the sum of
    /// the gradients of every output that copied it (positions mapped to -1 were the fill value
    /// and pass nothing back). `g.shape` must be `maps.map(\.count)`.
    public static func scatterAxes(_ g: Tensor, maps: [[Int]], into shape: [Int]) throws -> Tensor {
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
    public static func scatterBlocks(_ g: Tensor, indices idx: [Int], into shape: [Int], axis a: Int) throws -> Tensor {
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
