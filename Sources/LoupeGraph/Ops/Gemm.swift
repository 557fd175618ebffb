import LoupeTensor

/// Gemm: Y[M, N] = alpha · A'[M, K] · B'[K, N] + beta · C, where A' is A or Aᵀ (transA),
/// B' is B or Bᵀ (transB), and C (optional from opset 11) broadcasts to [M, N]. The opset < 7
/// `broadcast` attribute is accepted; C is always broadcast, which covers both settings.
public struct Gemm: Operator {
    public static let opType = "Gemm"
    let alpha: Float, beta: Float
    let transA: Bool, transB: Bool

    public init(_ context: OpContext) throws {
        let a = context.attributes
        alpha = try a.float("alpha", 1)
        beta = try a.float("beta", 1)
        transA = try a.int("transA", 0) != 0
        transB = try a.int("transB", 0) != 0
        _ = try a.int("broadcast", 0)
    }

    /// (M, N, K) after checking A, B and C.
    func dims(_ a: [Int], _ b: [Int], _ c: [Int]?) throws -> (Int, Int, Int) {
        guard a.count == 2, b.count == 2 else {
            throw LoupeError.shape("Gemm: A \(describe(a)) and B \(describe(b)) should both be matrices")
        }
        let (m, k) = transA ? (a[1], a[0]) : (a[0], a[1])
        let (k2, n) = transB ? (b[1], b[0]) : (b[0], b[1])
        guard k == k2 else {
            throw LoupeError.shape("Gemm: A \(describe(a))\(transA ? "ᵀ" : "") and B \(describe(b))\(transB ? "ᵀ" : "") have inner dimensions \(k) and \(k2)")
        }
        if let c {
            let cm = c.count == 2 ? c[0] : 1, cn = c.last ?? 1
            guard c.count <= 2, cm == 1 || cm == m, cn == 1 || cn == n else {
                throw LoupeError.shape("Gemm: C \(describe(c)) does not broadcast to [\(m), \(n)]")
            }
        }
        return (m, n, k)
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let a = try required(inputs, 0), b = try required(inputs, 1)
        let (m, n, _) = try dims(a.shape, b.shape, optionalInput(inputs, 2)?.shape)
        return [TensorType(a.dtype, [m, n])]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let a = try float(inputs, 0), b = try float(inputs, 1)
        let c = optionalInput(inputs, 2)
        if let c, !c.isFloat { throw LoupeError.unsupported("Gemm: C has dtype \(c.dtype.name); only float is supported") }
        let (m, n, k) = try dims(a.shape, b.shape, c?.shape)
        let useC = c != nil && beta != 0
        var y = try a.floats.withUnsafeBufferPointer { pa in
            try b.floats.withUnsafeBufferPointer { pb in
                try withOptionalFloats(c) { pc in
                    try Tensor(shape: [m, n]) { py in
                        guard let yp = py.baseAddress, py.count > 0 else { return }
                        if useC, let pc, let cs = c?.shape {
                            let cm = cs.count == 2 ? cs[0] : 1, cn = cs.last ?? 1
                            for i in 0..<m {
                                let crow = pc + (cm == 1 ? 0 : i * cn)
                                for j in 0..<n { yp[i * n + j] = beta * crow[cn == 1 ? 0 : j] }
                            }
                        } else {
                            py.initialize(repeating: 0)
                        }
                        guard k > 0, let ap = pa.baseAddress, let bp = pb.baseAddress else { return }
                        sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                              a: ap, lda: a.shape[1], b: bp, ldb: b.shape[1], beta: 1, c: yp, ldc: n)
                    }
                }
            }
        }
        y.dtype = a.dtype
        return [y]
    }
}
