// Strided views (Transpose, Slice, Expand, Tile, DepthToSpace, Concat/Split blocks) and their
// adjoint, each with its per-element reference.

extension Movement {
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

    public static func strided<T: MovementElement>(
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

    /// Copies `x[..., start ..< start+length, ...]` along `axis` (one block copy per outer index).
    public static func sliceAxis(_ x: Tensor, axis: Int, start: Int, length: Int) throws -> Tensor {
        var shape = x.shape
        shape[axis] = length
        return try strided(x, shape: shape, strides: contiguousStrides(x.shape),
                           offset: start * product(x.shape, (axis + 1)..<x.rank))
    }

    // MARK: - Adjoint

    /// Adjoint of `strided`: a float32 tensor of `shape` holding, at offset + Σ i_d·strides[d],
    /// the sum of every `g[i]` that the strided view read from there (zero elsewhere). Views that
    /// read an element several times (stride 0: Expand, Tile) accumulate.
    public static func stridedAdjoint(_ g: Tensor, into shape: [Int], strides: [Int], offset: Int = 0) throws -> Tensor {
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
    public static func stridedAdjointNaive(_ g: Tensor, into shape: [Int], strides: [Int], offset: Int = 0) -> Tensor {
        var out = [Float](repeating: 0, count: shape.reduce(1, *))
        let gs = contiguousStrides(g.shape)
        for i in 0..<g.count {
            var p = offset
            for d in 0..<g.rank { p += (i / gs[d]) % g.shape[d] * strides[d] }
            out[p] += g.floats[i]
        }
        return Tensor(shape: shape, floats: out)
    }

    // MARK: - Concatenation

    /// Joins `xs` along axis `a` (Concat): with each input viewed as [outer, n_k, inner], the
    /// output row o is the inputs' rows o one after another. The inputs must share a dtype and
    /// every other dimension; `shape` is the output shape.
    public static func concat(_ xs: [Tensor], axis a: Int, shape: [Int]) throws -> Tensor {
        if xs[0].isFloat { return try concat(Float.self, xs, shape, a) }
        return try concat(Int64.self, xs, shape, a)
    }

    static func concat<T: MovementElement>(_: T.Type, _ xs: [Tensor], _ shape: [Int], _ a: Int) throws -> Tensor {
        let outer = product(shape, 0..<a)
        let inner = product(shape, (a + 1)..<shape.count)
        let rowOut = shape[a] * inner
        let storages = xs.map { T.storage($0) }
        return try build(T.self, shape, xs[0].dtype) { dst, _ in
            var offset = 0
            for (x, data) in zip(xs, storages) {
                let block = x.shape[a] * inner
                if block > 0 {
                    data.withUnsafeBufferPointer { p in
                        let src = p.baseAddress!
                        for o in 0..<outer {
                            (dst + o * rowOut + offset).update(from: src + o * block, count: block)
                        }
                    }
                }
                offset += block
            }
        }
    }
}
