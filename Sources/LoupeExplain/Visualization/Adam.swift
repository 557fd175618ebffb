import Foundation

/// Adam. Kingma and Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015, with
/// PyTorch's `torch.optim.Adam` defaults (β₁ 0.9, β₂ 0.999, ε 1e-8, bias correction) and
/// Lucent's learning rate 0.05 (`render_vis`: `torch.optim.Adam(params, lr=5e-2)`).
/// `step` descends: pass the gradient of the loss (minus the objective's gradient to ascend).
public struct Adam: Sendable {
    public var learningRate: Float
    public var beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8
    var m: [Float], v: [Float]
    var t = 0

    public init(count: Int, learningRate: Float = 0.05) {
        self.learningRate = learningRate
        m = [Float](repeating: 0, count: count)
        v = m
    }

    public mutating func step(_ p: inout [Float], gradient g: [Float]) {
        t += 1
        let c1 = 1 - pow(beta1, Float(t)), c2 = 1 - pow(beta2, Float(t))
        let stepSize = learningRate / c1
        let sqrtC2 = c2.squareRoot()
        for i in p.indices {
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
            // PyTorch: p −= lr/c1 · m / (√v/√c2 + ε).
            p[i] -= stepSize * m[i] / (v[i].squareRoot() / sqrtC2 + epsilon)
        }
    }
}
