import LoupeTensor

/// A dense row-major tensor of doubles: the value type of `Float64Evaluator`.
public struct Float64Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var data: [Double]

    public init(shape: [Int], data: [Double]) {
        precondition(shape.reduce(1, *) == data.count, "Float64Tensor: \(data.count) values for shape \(shape)")
        self.shape = shape
        self.data = data
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, data: [Double](repeating: 0, count: shape.reduce(1, *)))
    }

    /// The float32 tensor's values, widened exactly.
    public init(_ t: Tensor) {
        self.init(shape: t.shape, data: t.isFloat ? t.floats.map(Double.init) : t.ints.map(Double.init))
    }

    public var count: Int { data.count }

    /// Rounded to float32 (for comparing with the executor's results).
    public var float32: Tensor { Tensor(shape: shape, floats: data.map { Float($0) }) }
}

/// The naive double-precision evaluation of a graph, forward and backward: the reference
/// against which the float32 executor's rounding is judged.
///
/// Why it exists: float32 results depend on the summation order the BLAS kernels pick
/// (which differs between CPUs and `OPENBLAS_CORETYPE` values), so two correct float32
/// runs differ in the last bits. A map computed here in float64 with plain loops is far
/// closer to the exact answer than either; a float32 result that lies far from it is a bug,
/// one that lies within float rounding is not. It also shows when a test input is
/// ill-conditioned: exact ties in a max-pool window or pre-activations at zero, where the
/// last bit decides which subgradient is taken (`Float64Evaluator.Margins`).
///
/// It runs the executor's constant-folded plan graph (so shape chains and generated weights
/// arrive as constants, computed exactly in float32) with one loop nest per op: slow by
/// design (seconds for a SqueezeNet), never used outside tests and checks. The ops are those
/// of the CNN classifiers in the test fixtures and the ONNX whole-model cases; any other op
/// throws `unsupported`.
public final class Float64Evaluator {
    public let graph: Graph
    /// Every tensor's type in the plan (the output shapes of reshape-like ops come from here).
    let types: [String: TensorType]

    /// Plans `graph` for these input shapes with the float32 executor's passes (constant
    /// folding, dead-node elimination; no fusion), keeping `keep` alive.
    public init(graph: Graph, inputShapes: [String: [Int]], keep: Set<String> = []) throws {
        let ex = try Executor(graph: graph)
        var types: [String: TensorType] = [:]
        for (k, s) in inputShapes { types[k] = TensorType(.float32, s) }
        let plan = try ex.plan(for: types, keep: keep)
        self.graph = plan.graph
        self.types = plan.types
    }

    /// Every tensor's value: the graph inputs from `feeds`, the initializers widened from
    /// float32, and each node's outputs.
    public func forward(_ feeds: [String: Float64Tensor]) throws -> [String: Float64Tensor] {
        var v: [String: Float64Tensor] = feeds
        for (k, t) in graph.initializers { v[k] = Float64Tensor(t) }
        for node in graph.nodes {
            let ins = node.inputs.map { $0.isEmpty ? nil : v[$0] }
            do {
                let outs = try Float64Ops.forward(node, ins, opset: graph.opset, outputTypes: node.outputs.map { types[$0] })
                for (name, t) in zip(node.outputs, outs) where !name.isEmpty { v[name] = t }
            } catch let e as LoupeError {
                throw LoupeError(e.kind, "float64 reference: \(node.label): \(e.message)")
            }
        }
        return v
    }

    /// The gradients of the scalar `Σ seed · output` with respect to every float tensor that
    /// the output depends on, by reverse-mode accumulation over the nodes in reverse order.
    /// ReLU-like ops follow `rules` as the executor's backward pass does.
    public func backward(values: [String: Float64Tensor], output: String, seed: Float64Tensor,
                         rules: BackwardRules = .standard) throws -> [String: Float64Tensor] {
        var grads: [String: Float64Tensor] = [output: seed]
        for node in graph.nodes.reversed() {
            let gys = node.outputs.map { grads[$0] }
            guard gys.contains(where: { $0 != nil }) else { continue }
            let ins = node.inputs.map { $0.isEmpty ? nil : values[$0] }
            let outs = node.outputs.map { values[$0] }
            let gxs: [Float64Tensor?]
            do {
                gxs = try Float64Ops.backward(node, ins, outs, gys, opset: graph.opset, rules: rules)
            } catch let e as LoupeError {
                throw LoupeError(e.kind, "float64 reference backward: \(node.label): \(e.message)")
            }
            for (name, g) in zip(node.inputs, gxs) where !name.isEmpty {
                guard let g, graph.initializers[name] == nil else { continue }
                if var acc = grads[name] {
                    for i in 0..<acc.count { acc.data[i] += g.data[i] }
                    grads[name] = acc
                } else {
                    grads[name] = g
                }
            }
        }
        return grads
    }

    /// How close an input comes to the kinks of the network on this evaluation: the smallest
    /// |pre-activation| of any ReLU, relative to the largest |value| of its input tensor, and
    /// the smallest gap between the largest and second-largest tap of any max-pool window whose
    /// maximum is not exactly zero, relative to the largest |value| of the pooled tensor. A
    /// margin near float32's rounding (~1e-6) means a one-ulp change can move a gradient.
    public struct Margins: Sendable {
        public var relu: Double = .infinity
        public var maxPool: Double = .infinity
        /// Max-pool windows whose two largest taps are exactly equal and non-zero.
        public var tiedWindows = 0
    }

    public func margins(_ values: [String: Float64Tensor]) throws -> Margins {
        var m = Margins()
        for node in graph.nodes {
            guard let x = node.inputs.first.flatMap({ values[$0] }) else { continue }
            let scale = x.data.reduce(0) { max($0, abs($1)) }
            guard scale > 0 else { continue }
            switch node.opType {
            case "Relu":
                for v in x.data where v != 0 { m.relu = min(m.relu, abs(v) / scale) }
            case "MaxPool":
                let w = try Float64Ops.windows(node, x.shape, opset: graph.opset)
                let planes = x.shape[0] * x.shape[1], plane = x.shape[2...].reduce(1, *)
                for p in 0..<planes {
                    for taps in w.taps {
                        var a = -Double.infinity, b = -Double.infinity
                        for t in taps {
                            let v = x.data[p * plane + t]
                            if v > a { b = a; a = v } else if v > b { b = v }
                        }
                        guard taps.count > 1, a != 0 else { continue }
                        if a == b { m.tiedWindows += 1 }
                        m.maxPool = min(m.maxPool, (a - b) / scale)
                    }
                }
            default: continue
            }
        }
        return m
    }
}
