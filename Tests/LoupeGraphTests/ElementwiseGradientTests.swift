import LoupeGraph
import LoupeTensor
import LoupeTestSupport
import XCTest

/// Backward rules of the element-wise, variadic, reduction and softmax ops: finite-difference
/// checks (`GradientCheck`) for every differentiable op and its main variants, and hand-computed
/// cases for the ReLU rules, ties, and the ops that pass no gradient.
final class ElementwiseGradientTests: XCTestCase {
    var rng = SeededRandom(seed: 7)

    /// Uniform values in [lo, hi].
    func x(_ shape: [Int], _ lo: Float = -1, _ hi: Float = 1) -> Tensor { rng.tensor(shape, lo, hi) }

    /// Values in ±[lo, hi], away from 0 (ReLU-like kinks, |x|, sign).
    func away(_ shape: [Int], _ lo: Float = 0.1, _ hi: Float = 1) -> Tensor {
        Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in rng.awayFromZero(lo, hi) })
    }

    /// Distinct, well-separated values (no max/min ties): a shuffled ramp with step 0.1.
    func distinct(_ shape: [Int]) -> Tensor {
        var v = (0..<shape.reduce(1, *)).map { Float($0) * 0.1 - 1 }
        for i in stride(from: v.count - 1, to: 0, by: -1) { v.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return Tensor(shape: shape, floats: v)
    }

    func ints(_ v: [Int64]) -> Tensor { Tensor(shape: [v.count], ints: v) }

    /// Runs one op's forward and backward with the given output gradients.
    func backward(_ opType: String, attributes: [String: Attribute] = [:], opset: Int = 17, outputs: Int = 1,
                  inputs: [Tensor?], gradients: [Tensor?], wanted: [Bool]? = nil,
                  rules: BackwardRules = .standard) throws -> [Tensor?] {
        let node = Node(name: "n", opType: opType, inputs: inputs.indices.map { inputs[$0] == nil ? "" : "x\($0)" },
                        outputs: (0..<outputs).map { "y\($0)" }, attributes: attributes)
        let op = try OperatorRegistry.make(node, opset: opset)
        let outs = try op.forward(inputs)
        return try op.backward(inputs, outputs: outs, gradients: gradients,
                               wanted: wanted ?? inputs.map { $0?.isFloat ?? false }, rules: rules)
    }

    func assertClose(_ t: Tensor?, _ expected: [Float], shape: [Int]? = nil, accuracy: Float = 1e-5,
                     file: StaticString = #filePath, line: UInt = #line) {
        guard let t else { XCTFail("no gradient", file: file, line: line); return }
        if let shape { XCTAssertEqual(t.shape, shape, file: file, line: line) }
        XCTAssertEqual(t.dtype, .float32, file: file, line: line)
        XCTAssertEqual(t.floats.count, expected.count, file: file, line: line)
        for (a, b) in zip(t.floats, expected) { XCTAssertEqual(a, b, accuracy: accuracy, file: file, line: line) }
    }

    // MARK: - Unary, finite differences

    func testSmoothUnaryOps() throws {
        try GradientCheck.check("Sqrt", inputs: [x([2, 3, 4], 0.3, 2)])
        try GradientCheck.check("Exp", inputs: [x([2, 3, 4], -2, 2)])
        try GradientCheck.check("Log", inputs: [x([2, 3, 4], 0.3, 3)])
        try GradientCheck.check("Neg", inputs: [x([3, 5])])
        try GradientCheck.check("Abs", inputs: [away([3, 5])])
        try GradientCheck.check("Reciprocal", inputs: [away([3, 5], 0.4, 2)])
        try GradientCheck.check("Erf", inputs: [x([3, 5], -2, 2)])
        try GradientCheck.check("Sigmoid", inputs: [x([2, 3, 4], -4, 4)])
        try GradientCheck.check("Tanh", inputs: [x([2, 3, 4], -2, 2)])
        try GradientCheck.check("Softplus", inputs: [x([2, 3, 4], -4, 4)])
        try GradientCheck.check("Softsign", inputs: [away([2, 3, 4], 0.1, 3)])
        try GradientCheck.check("Mish", opset: 18, inputs: [x([2, 3, 4], -4, 4)])
        try GradientCheck.check("Gelu", opset: 20, inputs: [x([2, 3, 4], -3, 3)])
        try GradientCheck.check("Gelu", attributes: ["approximate": .string("tanh")], opset: 20, inputs: [x([2, 3, 4], -3, 3)])
    }

    func testPiecewiseUnaryOps() throws {
        try GradientCheck.check("Relu", inputs: [away([2, 3, 4])])
        try GradientCheck.check("LeakyRelu", inputs: [away([2, 3, 4])])
        try GradientCheck.check("LeakyRelu", attributes: ["alpha": .float(0.3)], inputs: [away([2, 3, 4])])
        try GradientCheck.check("Elu", inputs: [away([2, 3, 4], 0.05, 2)])
        try GradientCheck.check("Elu", attributes: ["alpha": .float(0.5)], inputs: [away([2, 3, 4], 0.05, 2)])
        try GradientCheck.check("Selu", inputs: [away([2, 3, 4], 0.05, 2)])
        try GradientCheck.check("Selu", attributes: ["alpha": .float(2), "gamma": .float(3)], inputs: [away([2, 3, 4], 0.05, 2)])
        // HardSigmoid kinks at alpha·x + beta ∈ {0, 1}: x = ±2.5 by default, −2 and 3 below.
        let hs = Tensor(shape: [10], floats: [-4, -2.7, -2.2, -1, -0.3, 0.4, 1.5, 2.2, 2.8, 4])
        try GradientCheck.check("HardSigmoid", inputs: [hs])
        try GradientCheck.check("HardSigmoid", attributes: ["alpha": .float(0.4), "beta": .float(0.8)], inputs: [hs])
        // HardSwish kinks at ±3.
        try GradientCheck.check("HardSwish", opset: 14,
                                inputs: [Tensor(shape: [10], floats: [-5, -3.4, -2.6, -1, -0.2, 0.3, 1.7, 2.7, 3.3, 6])])
    }

    func testClip() throws {
        let v = Tensor(shape: [3, 4], floats: [-2, -0.9, -0.4, 0.15, 0.35, 0.7, 1.3, 2.5, -0.05, 0.55, 0.95, 1.6])
        // Opset 6: attributes; opset 11/13: optional scalar inputs; one bound absent.
        try GradientCheck.check("Clip", attributes: ["min": .float(-0.5), "max": .float(0.8)], opset: 6, inputs: [v])
        try GradientCheck.check("Clip", opset: 13, inputs: [v, .scalar(-0.5), .scalar(0.8)], check: [0])
        try GradientCheck.check("Clip", opset: 13, inputs: [v, nil, .scalar(0.8)], check: [0])
        try GradientCheck.check("Clip", opset: 11, inputs: [v, .scalar(-0.5)], check: [0])
        // ReLU6.
        try GradientCheck.check("Clip", opset: 13, inputs: [v.mapped { $0 * 5 }, .scalar(0), .scalar(6)], check: [0])
    }

    func testPRelu() throws {
        // Opset 9+: slope broadcasts (per channel [C, 1, 1], scalar, full shape).
        try GradientCheck.check("PRelu", opset: 9, inputs: [away([2, 3, 2, 2]), x([3, 1, 1], 0.1, 0.5)])
        try GradientCheck.check("PRelu", opset: 16, inputs: [away([2, 3, 4]), x([1], 0.1, 0.5)])
        try GradientCheck.check("PRelu", opset: 16, inputs: [away([2, 3, 4]), x([3, 4], -0.5, 0.5)])
        // Opset 6: a 1-D slope of C values applies along dimension 1.
        try GradientCheck.check("PRelu", opset: 6, inputs: [away([2, 3, 2, 2]), x([3], 0.1, 0.5)])
    }

    // MARK: - Binary and variadic, finite differences

    func testBroadcastingBinaryOps() throws {
        let shapes: [([Int], [Int])] = [([2, 3, 4], [2, 3, 4]), ([2, 3, 4], [3, 1]), ([4], [2, 3, 1]), ([2, 1, 4], [1, 3, 1]), ([2, 3], [])]
        for (sa, sb) in shapes {
            try GradientCheck.check("Add", inputs: [x(sa), x(sb)])
            try GradientCheck.check("Sub", inputs: [x(sa), x(sb)])
            try GradientCheck.check("Mul", inputs: [x(sa), x(sb)])
            try GradientCheck.check("Div", inputs: [x(sa), away(sb, 0.5, 2)])
            try GradientCheck.check("Pow", inputs: [x(sa, 0.3, 2), x(sb, -2, 2)])
        }
    }

    func testLegacyBroadcast() throws {
        // Opset 6 with broadcast = 1: B lines up with A at `axis`.
        let attrs: [String: Attribute] = ["broadcast": .int(1), "axis": .int(1)]
        for op in ["Add", "Sub", "Mul"] {
            try GradientCheck.check(op, attributes: attrs, opset: 6, inputs: [x([2, 3, 4]), x([3])])
        }
        try GradientCheck.check("Div", attributes: attrs, opset: 6, inputs: [x([2, 3, 4]), away([3], 0.5, 2)])
        try GradientCheck.check("Pow", attributes: ["broadcast": .int(1)], opset: 6, inputs: [x([2, 3, 4], 0.3, 2), x([4], -1, 2)])
    }

    func testPowIntegerExponent() throws {
        // A float base with an integer exponent (opset 12+): only the base has a gradient.
        let e = Tensor(shape: [3], ints: [2, 3, -1])
        try GradientCheck.check("Pow", opset: 15, inputs: [x([2, 3], 0.3, 2), e], check: [0])
        let g = try backward("Pow", opset: 15, inputs: [Tensor(shape: [3], floats: [2, 3, 0.5]), e],
                             gradients: [Tensor(shape: [3], floats: [1, 1, 1])])
        assertClose(g[0], [4, 27, -4])  // 2x, 3x², −x⁻²
        XCTAssertNil(g[1])
    }

    func testVariadicOps() throws {
        try GradientCheck.check("Sum", inputs: [x([2, 3, 4]), x([3, 1]), x([4])])
        try GradientCheck.check("Sum", opset: 6, inputs: [x([2, 3]), x([2, 3])])
        try GradientCheck.check("Sum", inputs: [x([2, 3])])
        try GradientCheck.check("Mean", inputs: [x([2, 3, 4]), x([3, 1]), x([4])])
        try GradientCheck.check("Mean", inputs: [x([2, 3]), x([2, 3])])
        // Max/Min: distinct values so that no element ties.
        let all = distinct([3 * 24]).floats
        let a = Tensor(shape: [2, 3, 4], floats: Array(all[0..<24]))
        let b = Tensor(shape: [3, 4], floats: Array(all[24..<36]))
        let c = Tensor(shape: [2, 1, 4], floats: Array(all[36..<44]))
        try GradientCheck.check("Max", inputs: [a, b, c])
        try GradientCheck.check("Min", inputs: [a, b, c])
        try GradientCheck.check("Max", inputs: [a, b])
        try GradientCheck.check("Min", inputs: [a])
    }

    func testMaxMinTiesSplitEvenly() throws {
        // Max([1, 5, 2], [1, 4, 2], [0, 5, 2]) = [1, 5, 2]: ties at 0 (A, B), 1 (A, C), 2 (all).
        let a = Tensor(shape: [3], floats: [1, 5, 2]), b = Tensor(shape: [3], floats: [1, 4, 2])
        let c = Tensor(shape: [3], floats: [0, 5, 2])
        let g = Tensor(shape: [3], floats: [2, 4, 6])
        let gm = try backward("Max", inputs: [a, b, c], gradients: [g])
        assertClose(gm[0], [1, 2, 2])
        assertClose(gm[1], [1, 0, 2])
        assertClose(gm[2], [0, 2, 2])
        // Min with a broadcast scalar that ties twice: its shares add up.
        let s = Tensor(shape: [], floats: [1])
        let gn = try backward("Min", inputs: [Tensor(shape: [3], floats: [1, 0, 1]), s], gradients: [g])
        assertClose(gn[0], [1, 4, 3])
        assertClose(gn[1], [4], shape: [])  // 2/2 + 6/2
    }

    func testWhere() throws {
        let cond = Tensor(shape: [3, 1], ints: [1, 0, 1], dtype: .bool)
        try GradientCheck.check("Where", inputs: [cond, x([1, 4]), x([3, 4])], check: [1, 2])
        try GradientCheck.check("Where", inputs: [Tensor(shape: [2, 3], ints: [1, 0, 0, 1, 1, 0], dtype: .bool), x([2, 3]), x([])], check: [1, 2])
        // By hand: X [2] broadcast along rows, Y [2, 2]; condition [2, 1].
        let g = try backward("Where", inputs: [Tensor(shape: [2, 1], ints: [1, 0], dtype: .bool),
                                               Tensor(shape: [2], floats: [5, 6]), Tensor(shape: [2, 2], floats: [7, 8, 9, 10])],
                             gradients: [Tensor(shape: [2, 2], floats: [1, 2, 3, 4])])
        XCTAssertNil(g[0])
        assertClose(g[1], [1, 2], shape: [2])
        assertClose(g[2], [0, 0, 3, 4], shape: [2, 2])
    }

    // MARK: - Reductions, finite differences

    func testReductions() throws {
        let pos = x([2, 3, 4], 0.3, 1.5)
        let ops = ["ReduceSum", "ReduceMean", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSumExp", "ReduceSumSquare"]
        for op in ops {
            let input = op == "ReduceL1" ? away([2, 3, 4]) : (op == "ReduceProd" ? away([2, 3, 4], 0.5, 1.5) : x([2, 3, 4]))
            // Attribute axes (opset 11; ReduceSum 11 too), keepdims both ways, all axes.
            try GradientCheck.check(op, attributes: ["axes": .ints([1])], opset: 11, inputs: [input])
            try GradientCheck.check(op, attributes: ["axes": .ints([0, -1]), "keepdims": .int(0)], opset: 11, inputs: [input])
            try GradientCheck.check(op, opset: 11, inputs: [input])
            // Axes input (ReduceSum from 13, the others from 18).
            try GradientCheck.check(op, attributes: ["keepdims": .int(0)], opset: 18, inputs: [input, ints([2, 0])], check: [0])
            try GradientCheck.check(op, opset: 18, inputs: [input], check: [0])
        }
        try GradientCheck.check("ReduceL2", attributes: ["axes": .ints([2])], opset: 13, inputs: [pos])
        // noop_with_empty_axes: the identity.
        try GradientCheck.check("ReduceMean", attributes: ["noop_with_empty_axes": .int(1)], opset: 18, inputs: [x([2, 3])])
    }

    func testReduceMaxMin() throws {
        let v = distinct([2, 3, 4])
        for op in ["ReduceMax", "ReduceMin"] {
            try GradientCheck.check(op, attributes: ["axes": .ints([1])], opset: 13, inputs: [v])
            try GradientCheck.check(op, attributes: ["axes": .ints([0, 2]), "keepdims": .int(0)], opset: 13, inputs: [v])
            try GradientCheck.check(op, opset: 13, inputs: [v])
            try GradientCheck.check(op, opset: 18, inputs: [v, ints([-1])], check: [0])
        }
        // Ties split evenly (as torch.amax): rows [3, 1, 3] and [2, 2, 2].
        let t = Tensor(shape: [2, 3], floats: [3, 1, 3, 2, 2, 2])
        let g = try backward("ReduceMax", attributes: ["axes": .ints([1])], opset: 13, inputs: [t],
                             gradients: [Tensor(shape: [2, 1], floats: [4, 6])])
        assertClose(g[0], [2, 0, 2, 2, 2, 2])
    }

    func testReduceProdWithZeros() throws {
        // One zero in a group: only it gets the product of the others; two zeros: nothing.
        let t = Tensor(shape: [3, 3], floats: [2, 0, 3, 0, 5, 0, 1, 2, 4])
        let g = try backward("ReduceProd", attributes: ["axes": .ints([1])], opset: 13, inputs: [t],
                             gradients: [Tensor(shape: [3, 1], floats: [1, 1, 2])])
        assertClose(g[0], [0, 6, 0, 0, 0, 0, 16, 8, 4])
        try GradientCheck.check("ReduceProd", attributes: ["axes": .ints([1])], opset: 13, inputs: [t])
    }

    // MARK: - Softmax

    func testSoftmax() throws {
        for op in ["Softmax", "LogSoftmax"] {
            // Opset 11: [2, 3, 4] coerced to 2-D at axis 1 (normalised over 12 values).
            try GradientCheck.check(op, opset: 11, inputs: [x([2, 3, 4], -2, 2)])
            try GradientCheck.check(op, attributes: ["axis": .int(2)], opset: 11, inputs: [x([2, 3, 4], -2, 2)])
            try GradientCheck.check(op, attributes: ["axis": .int(0)], opset: 11, inputs: [x([2, 3, 4], -2, 2)])
            // Opset 13: one axis (default −1; an inner axis with inner lanes).
            try GradientCheck.check(op, opset: 13, inputs: [x([2, 3, 4], -2, 2)])
            try GradientCheck.check(op, attributes: ["axis": .int(1)], opset: 13, inputs: [x([2, 3, 4], -2, 2)])
            try GradientCheck.check(op, attributes: ["axis": .int(0)], opset: 13, inputs: [x([2, 3, 4], -2, 2)])
        }
        // By hand: softmax of [0, ln 3] is [1/4, 3/4]; with g = [1, 0], dx = y (g − y·g) = [3/16, −3/16].
        let g = try backward("Softmax", opset: 13, inputs: [Tensor(shape: [2], floats: [0, Float(log(3.0))])],
                             gradients: [Tensor(shape: [2], floats: [1, 0])])
        assertClose(g[0], [3.0 / 16, -3.0 / 16])
        // Log-softmax: dx = g − softmax · Σ g = [1 − 1/4, −3/4].
        let gl = try backward("LogSoftmax", opset: 13, inputs: [Tensor(shape: [2], floats: [0, Float(log(3.0))])],
                              gradients: [Tensor(shape: [2], floats: [1, 0])])
        assertClose(gl[0], [0.75, -0.75])
    }

    // MARK: - Pass-through and blocked

    func testIdentityDropoutCast() throws {
        try GradientCheck.check("Identity", inputs: [x([2, 3])])
        try GradientCheck.check("Dropout", opset: 7, inputs: [x([2, 3])])
        try GradientCheck.check("Dropout", opset: 13, outputs: 2,
                                inputs: [x([2, 3]), .scalar(0.5), Tensor(shape: [], ints: [0], dtype: .bool)], check: [0])
        try GradientCheck.check("Cast", attributes: ["to": .int(1)], opset: 13, inputs: [x([2, 3])])
        try GradientCheck.check("Cast", attributes: ["to": .int(11)], opset: 13, inputs: [x([2, 3])])
        try GradientCheck.check("CastLike", opset: 15, inputs: [x([2, 3]), Tensor(shape: [1], floats: [0])], check: [0])
        // To an integer type: no gradient.
        let gi = try backward("Cast", attributes: ["to": .int(7)], opset: 13, inputs: [x([2, 3])], gradients: [nil])
        XCTAssertNil(gi[0])
        let gl = try backward("CastLike", opset: 15, inputs: [x([2, 3]), Tensor(shape: [1], ints: [0])], gradients: [nil])
        XCTAssertNil(gl[0])
        XCTAssertNil(gl[1])
    }

    func testPiecewiseConstantOpsGiveZeros() throws {
        let v = Tensor(shape: [2, 2], floats: [-1.7, -0.2, 0.6, 2.5])
        let g = Tensor(shape: [2, 2], floats: [1, 2, 3, 4])
        for op in ["Floor", "Ceil", "Round", "Sign"] {
            let r = try backward(op, opset: 13, inputs: [v], gradients: [g])
            assertClose(r[0], [0, 0, 0, 0], shape: [2, 2])
        }
    }

    func testOpsWithoutGradient() throws {
        let a = Tensor(shape: [3], floats: [1, 2, 3]), b = Tensor(shape: [3], floats: [3, 2, 1])
        for op in ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"] {
            let r = try backward(op, opset: 13, inputs: [a, b], gradients: [nil], wanted: [true, true])
            XCTAssertEqual(r.count, 2, op)
            XCTAssertTrue(r.allSatisfy { $0 == nil }, op)
        }
        let t = Tensor(shape: [2], ints: [1, 0], dtype: .bool)
        XCTAssertTrue(try backward("Not", inputs: [t], gradients: [nil]).allSatisfy { $0 == nil })
        XCTAssertTrue(try backward("And", inputs: [t, t], gradients: [nil]).allSatisfy { $0 == nil })
        XCTAssertTrue(try backward("Or", inputs: [t, t], gradients: [nil]).allSatisfy { $0 == nil })
        for op in ["ArgMax", "ArgMin"] {
            let r = try backward(op, opset: 13, inputs: [a], gradients: [nil], wanted: [true])
            XCTAssertEqual(r.count, 1)
            XCTAssertNil(r[0], op)
        }
    }

    // MARK: - ReLU rules, by hand

    func testReluRules() throws {
        let v = Tensor(shape: [4], floats: [-2, -1, 1, 2])
        let g = Tensor(shape: [4], floats: [3, -3, 5, -5])
        let expected: [ReluRule: [Float]] = [
            .standard: [0, 0, 5, -5],   // g · [x > 0]
            .deconvnet: [3, 0, 5, 0],   // max(g, 0)
            .guided: [0, 0, 5, 0],      // max(g, 0) · [x > 0]
            .redirected: [0, 0, 5, -5], // some gradient passes: the true one
        ]
        for rule in ReluRule.allCases {
            let r = try backward("Relu", inputs: [v], gradients: [g], rules: BackwardRules(relu: rule))
            assertClose(r[0], expected[rule]!)
        }
        // A ReLU that passes nothing: the redirected rule lets g through where x > 0 or g > 0.
        let dead = Tensor(shape: [4], floats: [-2, -1, -1, -2])
        let r = try backward("Relu", inputs: [dead], gradients: [g], rules: BackwardRules(relu: .redirected))
        assertClose(r[0], [3, 0, 5, 0])
    }

    func testLeakyReluRules() throws {
        let v = Tensor(shape: [4], floats: [-2, -1, 1, 2])
        let g = Tensor(shape: [4], floats: [3, -3, 5, -5])
        let expected: [ReluRule: [Float]] = [
            .standard: [0.3, -0.3, 5, -5],  // alpha · g on the negative side
            .deconvnet: [3, 0, 5, 0],       // the negative side as ReLU's zero side
            .guided: [0, 0, 5, 0],
            .redirected: [0.3, -0.3, 5, -5],  // a leaky unit always passes gradient: the true one
        ]
        for rule in ReluRule.allCases {
            let r = try backward("LeakyRelu", attributes: ["alpha": .float(0.1)], inputs: [v], gradients: [g],
                                 rules: BackwardRules(relu: rule))
            assertClose(r[0], expected[rule]!)
            // PRelu with the same (scalar) slope behaves alike for X.
            let p = try backward("PRelu", opset: 16, inputs: [v, Tensor(shape: [1], floats: [0.1])], gradients: [g],
                                 rules: BackwardRules(relu: rule))
            assertClose(p[0], expected[rule]!)
            // The slope's gradient is the true one, Σ g·x over x < 0 = 3·(−2) + (−3)·(−1).
            assertClose(p[1], [-3], shape: [1])
        }
    }

    func testClipAsRelu6Rules() throws {
        // x:       −2   −1   1    2    7    8
        // g:        3   −3   5   −5    4   −4
        let v = Tensor(shape: [6], floats: [-2, -1, 1, 2, 7, 8])
        let g = Tensor(shape: [6], floats: [3, -3, 5, -5, 4, -4])
        let expected: [ReluRule: [Float]] = [
            .standard: [0, 0, 5, -5, 0, 0],   // [0 < x < 6]
            .deconvnet: [3, 0, 5, 0, 0, 0],   // max(g, 0) · [x < 6]
            .guided: [0, 0, 5, 0, 0, 0],      // max(g, 0) · [0 < x < 6]
            .redirected: [0, 0, 5, -5, 0, 0], // some gradient passes: the true one
        ]
        for rule in ReluRule.allCases {
            let r = try backward("Clip", opset: 13, inputs: [v, .scalar(0), .scalar(6)], gradients: [g],
                                 wanted: [true, false, false], rules: BackwardRules(relu: rule))
            assertClose(r[0], expected[rule]!)
            let old = try backward("Clip", attributes: ["min": .float(0), "max": .float(6)], opset: 6, inputs: [v],
                                   gradients: [g], rules: BackwardRules(relu: rule))
            assertClose(old[0], expected[rule]!)
        }
        // A Clip that is not a rectifier ignores the rule: the plain mask [−1.5 < x < 6].
        let r = try backward("Clip", opset: 13, inputs: [v, .scalar(-1.5), .scalar(6)], gradients: [g],
                             wanted: [true, false, false], rules: BackwardRules(relu: .guided))
        assertClose(r[0], [0, -3, 5, -5, 0, 0])
    }

    func testOtherOpsIgnoreRules() throws {
        // Sigmoid under the guided rule: still the true gradient g · y (1 − y).
        let r = try backward("Sigmoid", inputs: [Tensor(shape: [2], floats: [0, 0])], gradients: [Tensor(shape: [2], floats: [-4, 4])],
                             rules: BackwardRules(relu: .guided))
        assertClose(r[0], [-1, 1])
    }
}

private extension Tensor {
    func mapped(_ f: (Float) -> Float) -> Tensor { Tensor(shape: shape, floats: floats.map(f)) }
}
