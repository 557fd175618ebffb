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

    /// With G = dY: dA' = alpha · G · B'ᵀ, dB' = alpha · A'ᵀ · G (transposed back when transA
    /// or transB), dC = beta · G summed over C's broadcast dimensions. One `sgemm` each.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        let a = try float(inputs, 0), b = try float(inputs, 1)
        let c = optionalInput(inputs, 2)
        let (m, n, k) = try dims(a.shape, b.shape, c?.shape)
        var result = [Tensor?](repeating: nil, count: inputs.count)
        guard let gy = gradients.first ?? nil else { return try zeroInputGradients(inputs, wanted) }
        let lda = a.shape[1], ldb = b.shape[1]
        try a.floats.withUnsafeBufferPointer { pa in try b.floats.withUnsafeBufferPointer { pb in
        try gy.floats.withUnsafeBufferPointer { pg in
            if isGradientWanted(wanted, 0) {
                result[0] = try Tensor(shape: a.shape) { out in
                    guard let d = out.baseAddress else { return }
                    guard let gp = pg.baseAddress, let bp = pb.baseAddress, n > 0 else { out.initialize(repeating: 0); return }
                    if transA {   // dA[K, M] = alpha · B' · Gᵀ
                        sgemm(transA: transB, transB: true, m: k, n: m, k: n, alpha: alpha, a: bp, lda: ldb,
                              b: gp, ldb: n, c: d, ldc: m)
                    } else {      // dA[M, K] = alpha · G · B'ᵀ
                        sgemm(transA: false, transB: !transB, m: m, n: k, k: n, alpha: alpha, a: gp, lda: n,
                              b: bp, ldb: ldb, c: d, ldc: k)
                    }
                }
            }
            if isGradientWanted(wanted, 1) {
                result[1] = try Tensor(shape: b.shape) { out in
                    guard let d = out.baseAddress else { return }
                    guard let gp = pg.baseAddress, let ap = pa.baseAddress, m > 0 else { out.initialize(repeating: 0); return }
                    if transB {   // dB[N, K] = alpha · Gᵀ · A'
                        sgemm(transA: true, transB: transA, m: n, n: k, k: m, alpha: alpha, a: gp, lda: n,
                              b: ap, ldb: lda, c: d, ldc: k)
                    } else {      // dB[K, N] = alpha · A'ᵀ · G
                        sgemm(transA: !transA, transB: false, m: k, n: n, k: m, alpha: alpha, a: ap, lda: lda,
                              b: gp, ldb: n, c: d, ldc: n)
                    }
                }
            }
        }}}
        if let c, isGradientWanted(wanted, 2) {
            var dc = try reduceToShape(gy, c.shape)
            if beta != 1 { dc = try mapFloat(dc) { $0 * beta } }
            dc.dtype = .float32
            result[2] = dc
        }
        return result
    }
}
