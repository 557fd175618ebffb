import LoupeGraph
import LoupeTensor

/// EigenCAM. Muhammad and Yeasin, "Eigen-CAM: Class Activation Map using Principal
/// Components", IJCNN 2020.
///
/// With A the layer's output [1, K, h, w] read as h·w points in K dimensions and centred
/// (each channel minus its mean over the plane: M, h·w × K), the map is M's projection on its
/// first principal axis, p = M v₁ (v₁ the first right singular vector), reshaped to h×w, then
/// a ReLU: pytorch-grad-cam's `EigenCAM` (`get_2d_projection`, which also centres). No class
/// and no gradient: the map is the same for every target.
///
/// A singular vector's sign is arbitrary (LAPACK may return either), and the ReLU keeps only
/// one side, so Loupe fixes it: v₁ is oriented so that its entries sum to ≥ 0, which is the
/// same as asking p to correlate non-negatively with the centred sum of the channels
/// (p · M𝟙 = σ₁² Σ_k v₁ₖ): the component points towards more activation. An exact tie (sum 0)
/// makes p's largest-magnitude entry positive. pytorch-grad-cam keeps whatever sign NumPy's
/// SVD gives, so its map is Loupe's or the ReLU of its negation.
///
/// v₁ comes from the eigen-decomposition (LAPACK `dsyevd`, float64) of the smaller of MᵀM
/// (K × K) and MMᵀ (h·w × h·w).
public enum EigenCAM {
    public static func explain(_ model: ExplainableModel, _ x: Tensor, _ request: GradientRequest,
                               layer: String? = nil) throws -> Explanation {
        let (node, tensor) = try model.resolveLayer(layer, for: x)
        let (logits, values) = try model.forward(x, keep: [tensor])
        let target = try model.resolveTarget(request.target.map(String.init), logits: logits, labels: [])
        let p = try projection(try firstItem(values[tensor]!))
        return Explanation(method: .eigenCAM, map: Tensor(shape: p.shape, floats: p.floats.map { max($0, 0) }),
                           target: target, layer: node)
    }

    /// The signed first-component projection p = M v₁ of A [K, h, w], [h, w], with the sign
    /// rule above (before the ReLU).
    public static func projection(_ a: Tensor) throws -> Tensor {
        let (k, h, w) = (a.shape[0], a.shape[1], a.shape[2])
        let n = h * w
        // M[i, c] = A[c, i] − mean_i A[c, i], kept channel-major (c, i) as A is; NaN → 0 as
        // get_2d_projection does.
        var m = [Double](repeating: 0, count: k * n)
        for c in 0..<k {
            var mean = 0.0
            for i in 0..<n {
                let v = a.floats[c * n + i]
                m[c * n + i] = v.isNaN ? 0 : Double(v)
                mean += m[c * n + i]
            }
            mean /= Double(n)
            for i in 0..<n { m[c * n + i] -= mean }
        }
        var p = [Double](repeating: 0, count: n)
        if n <= k {
            // MMᵀ (n × n): its top eigenvector u₁ gives p = σ₁ u₁.
            var gram = [Double](repeating: 0, count: n * n)
            for c in 0..<k {
                let row = c * n
                for i in 0..<n where m[row + i] != 0 {
                    let v = m[row + i]
                    for j in i..<n { gram[i * n + j] += v * m[row + j] }
                }
            }
            for i in 0..<n { for j in 0..<i { gram[i * n + j] = gram[j * n + i] } }
            let (values, vectors) = try eigen(gram, n: n)
            let sigma = max(values[n - 1], 0).squareRoot()
            for i in 0..<n { p[i] = sigma * vectors[(n - 1) * n + i] }
        } else {
            // MᵀM (k × k): its top eigenvector is v₁, p = M v₁.
            var cov = [Double](repeating: 0, count: k * k)
            for c in 0..<k {
                for d in c..<k {
                    var s = 0.0
                    for i in 0..<n { s += m[c * n + i] * m[d * n + i] }
                    cov[c * k + d] = s
                    cov[d * k + c] = s
                }
            }
            let (_, vectors) = try eigen(cov, n: k)
            for c in 0..<k {
                let v = vectors[(k - 1) * k + c]
                for i in 0..<n { p[i] += m[c * n + i] * v }
            }
        }
        // Sign: p · M𝟙 ≥ 0 (M𝟙: each position's centred channel sum).
        var dot = 0.0
        for c in 0..<k { for i in 0..<n { dot += p[i] * m[c * n + i] } }
        var flip = dot < 0
        if dot == 0, let big = p.indices.max(by: { abs(p[$0]) < abs(p[$1]) }) { flip = p[big] < 0 }
        return Tensor(shape: [h, w], floats: p.map { Float(flip ? -$0 : $0) })
    }

    static func eigen(_ a: [Double], n: Int) throws -> ([Double], [Double]) {
        guard let r = symmetricEigen(a, n: n) else {
            throw LoupeError.invalid("EigenCAM: LAPACK's eigen-decomposition of the \(n) × \(n) activation covariance did not converge")
        }
        return r
    }
}
