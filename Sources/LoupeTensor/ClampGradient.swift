import CKernels

/// The ReLU rules of a backward pass, as the clamp-gradient kernel numbers them (LoupeGraph's
/// `ReluRule` maps onto these; docs/explanations.md).
public enum ClampGradientRule: Int32, Sendable {
    case standard = 0, deconvnet = 1, guided = 2, redirected = 3
}

/// `out[i]` = the gradient `g[i]` passed back through a clamp to [lo, hi] whose output is
/// `y[i]` (a Relu: lo 0, hi +inf), under `rule`: standard, g where lo < y < hi; deconvnet,
/// max(g, 0) where y < hi; guided, g where lo < y < hi and g > 0; redirected, g where
/// (y > lo or g > 0) and y < hi. With hi = +inf the test y < hi is left out. A vectorised C
/// loop (`loupe_clamp_gradient`); `out` may be `g`.
public func clampGradient(_ g: UnsafeBufferPointer<Float>, output y: UnsafeBufferPointer<Float>,
                          into out: UnsafeMutableBufferPointer<Float>, lo: Float, hi: Float, rule: ClampGradientRule) {
    precondition(g.count == y.count && out.count == g.count, "clampGradient: \(g.count), \(y.count) and \(out.count) floats")
    guard let gp = g.baseAddress, let yp = y.baseAddress, let op = out.baseAddress else { return }
    loupe_clamp_gradient(gp, yp, op, g.count, lo, hi, hi == .infinity ? 0 : 1, rule.rawValue)
}

/// `out[i] = a[i] + b[i]` (a vectorised C loop); `out` may be `a` or `b`.
public func addArrays(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>, into out: UnsafeMutableBufferPointer<Float>) {
    precondition(a.count == b.count && out.count == a.count, "addArrays: \(a.count), \(b.count) and \(out.count) floats")
    guard let ap = a.baseAddress, let bp = b.baseAddress, let op = out.baseAddress else { return }
    loupe_add_arrays(ap, bp, op, a.count)
}
