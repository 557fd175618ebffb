import LoupeTensor

/// MatMul: NumPy matmul. A[..., M, K] · B[..., K, N] → [..., M, N] with the batch
/// dimensions broadcast; a 1-D A is read as [1, K] and a 1-D B as [K, 1], and the added
/// dimension is removed from the result. Float: one `sgemm` per batch matrix (a single GEMM
/// when B has no batch); integers: direct loops, wrapped to the dtype.
public struct MatMul: Operator {
    public static let opType = "MatMul"
    public init(_ context: OpContext) throws {}

    struct Plan {
        var m: Int, n: Int, k: Int
        var batch: [Int]
        var aBatchStrides: [Int], bBatchStrides: [Int]   // in matrices, 0 along broadcast dims
        var output: [Int]
    }

    func plan(_ a: [Int], _ b: [Int]) throws -> Plan {
        guard !a.isEmpty, !b.isEmpty else {
            throw LoupeError.shape("MatMul: operands \(describe(a)) and \(describe(b)) must have rank at least 1")
        }
        let a2 = a.count == 1 ? [1] + a : a
        let b2 = b.count == 1 ? b + [1] : b
        let m = a2[a2.count - 2], k = a2[a2.count - 1]
        let k2 = b2[b2.count - 2], n = b2[b2.count - 1]
        guard k == k2 else {
            throw LoupeError.shape("MatMul: A \(describe(a)) and B \(describe(b)) have inner dimensions \(k) and \(k2)")
        }
        let aB = Array(a2.dropLast(2)), bB = Array(b2.dropLast(2))
        let batch: [Int]
        do { batch = try broadcastShape(aB, bB) } catch {
            throw LoupeError.shape("MatMul: batch dimensions of A \(describe(a)) and B \(describe(b)) do not broadcast")
        }
        var out = batch
        if a.count > 1 { out.append(m) }
        if b.count > 1 { out.append(n) }
        return Plan(m: m, n: n, k: k, batch: batch,
                    aBatchStrides: broadcastStrides(aB, to: batch), bBatchStrides: broadcastStrides(bB, to: batch),
                    output: out)
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let a = try required(inputs, 0), b = try required(inputs, 1)
        guard a.dtype == b.dtype else {
            throw LoupeError.shape("MatMul: A is \(a.dtype.name) but B is \(b.dtype.name)")
        }
        return [TensorType(a.dtype, try plan(a.shape, b.shape).output)]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let a = try required(inputs, 0), b = try required(inputs, 1)
        guard a.dtype == b.dtype else {
            throw LoupeError.shape("MatMul: A is \(a.dtype.name) but B is \(b.dtype.name)")
        }
        let p = try plan(a.shape, b.shape)
        let count = try Tensor.checkedCount(p.output)
        let batches = p.batch.reduce(1, *)
        let (m, n, k) = (p.m, p.n, p.k)
        // Matrix offsets of batch entry i in A and B.
        func offsets(_ i: Int) -> (Int, Int) {
            var rem = i, ao = 0, bo = 0
            for d in stride(from: p.batch.count - 1, through: 0, by: -1) {
                let c = rem % p.batch[d]
                rem /= p.batch[d]
                ao += c * p.aBatchStrides[d]
                bo += c * p.bBatchStrides[d]
            }
            return (ao * m * k, bo * k * n)
        }
        if !a.isFloat {
            var out = [Int64](repeating: 0, count: count)
            for bi in 0..<batches {
                let (ao, bo) = offsets(bi)
                for i in 0..<m {
                    for j in 0..<n {
                        var s: Int64 = 0
                        for q in 0..<k { s &+= a.ints[ao + i * k + q] &* b.ints[bo + q * n + j] }
                        out[(bi * m + i) * n + j] = a.dtype.wrap(s)
                    }
                }
            }
            return [Tensor(shape: p.output, ints: out, dtype: a.dtype)]
        }
        let bHasBatch = p.bBatchStrides.contains { $0 != 0 }
        let aFull = Array(a.shape.dropLast(2)) == p.batch || batches == 1
        var y = try a.floats.withUnsafeBufferPointer { pa in
            try b.floats.withUnsafeBufferPointer { pb in
                try Tensor(shape: p.output) { py in
                    guard let yp = py.baseAddress, count > 0 else { return }
                    guard k > 0, let ap = pa.baseAddress, let bp = pb.baseAddress else {
                        py.initialize(repeating: 0); return
                    }
                    if !bHasBatch && aFull {
                        // One GEMM: the batch of A stacks into rows.
                        sgemm(m: batches * m, n: n, k: k, a: ap, lda: k, b: bp, ldb: n, c: yp, ldc: n)
                        return
                    }
                    for bi in 0..<batches {
                        let (ao, bo) = offsets(bi)
                        sgemm(m: m, n: n, k: k, a: ap + ao, lda: k, b: bp + bo, ldb: n, c: yp + bi * m * n, ldc: n)
                    }
                }
            }
        }
        y.dtype = a.dtype
        return [y]
    }

    /// dA = G · Bᵀ and dB = Aᵀ · G per batch matrix, accumulated (GEMM beta 1 into zeros) over broadcast
    /// batch dimensions (1-D operands promoted as in forward). One GEMM when B has no batch and A
    /// has the full batch (the common x · W case). Integer operands get no gradient.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        let a = try required(inputs, 0), b = try required(inputs, 1)
        guard a.isFloat, b.isFloat else { return [nil, nil] }
        guard let gy = gradients.first ?? nil else { return try zeroInputGradients(inputs, wanted) }
        let p = try plan(a.shape, b.shape)
        let batches = p.batch.reduce(1, *)
        let (m, n, k) = (p.m, p.n, p.k)
        func offsets(_ i: Int) -> (Int, Int) {
            var rem = i, ao = 0, bo = 0
            for d in stride(from: p.batch.count - 1, through: 0, by: -1) {
                let c = rem % p.batch[d]
                rem /= p.batch[d]
                ao += c * p.aBatchStrides[d]
                bo += c * p.bBatchStrides[d]
            }
            return (ao * m * k, bo * k * n)
        }
        let bHasBatch = p.bBatchStrides.contains { $0 != 0 }
        let aFull = Array(a.shape.dropLast(2)) == p.batch || batches == 1
        var da: [Float]? = isGradientWanted(wanted, 0) ? [Float](repeating: 0, count: a.count) : nil
        var db: [Float]? = isGradientWanted(wanted, 1) ? [Float](repeating: 0, count: b.count) : nil
        if batches * m * n > 0 && k > 0 {
            a.floats.withUnsafeBufferPointer { pa in b.floats.withUnsafeBufferPointer { pb in
            gy.floats.withUnsafeBufferPointer { pg in
                let ap = pa.baseAddress!, bp = pb.baseAddress!, gp = pg.baseAddress!
                if da != nil {
                    da!.withUnsafeMutableBufferPointer { pd in
                        let d = pd.baseAddress!
                        if !bHasBatch && aFull {
                            sgemm(transB: true, m: batches * m, n: k, k: n, a: gp, lda: n, b: bp, ldb: n, c: d, ldc: k)
                        } else {
                            for bi in 0..<batches {
                                let (ao, bo) = offsets(bi)
                                sgemm(transB: true, m: m, n: k, k: n, a: gp + bi * m * n, lda: n, b: bp + bo, ldb: n,
                                      beta: 1, c: d + ao, ldc: k)
                            }
                        }
                    }
                }
                if db != nil {
                    db!.withUnsafeMutableBufferPointer { pd in
                        let d = pd.baseAddress!
                        if !bHasBatch && aFull {
                            sgemm(transA: true, m: k, n: n, k: batches * m, a: ap, lda: k, b: gp, ldb: n, c: d, ldc: n)
                        } else {
                            for bi in 0..<batches {
                                let (ao, bo) = offsets(bi)
                                sgemm(transA: true, m: k, n: n, k: m, a: ap + ao, lda: k, b: gp + bi * m * n, ldb: n,
                                      beta: 1, c: d + bo, ldc: n)
                            }
                        }
                    }
                }
            }}}
        }
        return [da.map { Tensor(shape: a.shape, floats: $0) }, db.map { Tensor(shape: b.shape, floats: $0) }]
    }
}
