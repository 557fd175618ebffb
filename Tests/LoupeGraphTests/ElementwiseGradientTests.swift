import LoupeGraph
import LoupeTensor
import XCTest

/// Finite-difference checks of the element-wise, activation, softmax and reduction backward
/// rules (GradientCheck: central differences in Double), and hand-computed checks of the
/// three ReLU rules.
final class ElementwiseGradientTests: XCTestCase {
    var rng = SeededRandom(seed: 11)

    /// Values in ±[0.1, 1.5], away from the kinks at 0.
    func away(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in rng.awayFromZero(0.1, 1.5) })
    }
    func positive(_ shape: [Int]) -> Tensor { rng.tensor(shape, 0.3, 2) }

    func testUnaryActivations() throws {
        let smooth = ["Sigmoid", "Tanh", "Exp", "Neg", "Erf", "Softplus", "Softsign", "Gelu", "Mish", "Identity"]
        for op in smooth { try GradientCheck.check(op, opset: 20, inputs: [rng.tensor([2, 3, 4], -2, 2)]) }
        for op in ["Relu", "Abs", "Elu", "Selu", "LeakyRelu", "HardSwish"] {
            try GradientCheck.check(op, opset: 17, inputs: [away([2, 3, 4])])
        }
        try GradientCheck.check("HardSigmoid", inputs: [away([3, 5])])
        try GradientCheck.check("Gelu", attributes: ["approximate": .string("tanh")], opset: 20, inputs: [rng.tensor([10], -2, 2)])
        try GradientCheck.check("Elu", attributes: ["alpha": .float(0.7)], inputs: [away([8])])
        for op in ["Log", "Sqrt", "Reciprocal"] { try GradientCheck.check(op, inputs: [positive([2, 5])]) }
        try GradientCheck.check("Dropout", opset: 13, inputs: [rng.tensor([4, 3])])
        try GradientCheck.check("Cast", attributes: ["to": .int(1)], inputs: [rng.tensor([4, 3])])
    }

    func testBinaryWithBroadcasting() throws {
        for op in ["Add", "Sub", "Mul"] {
            try GradientCheck.check(op, inputs: [rng.tensor([2, 3, 4]), rng.tensor([3, 1])])
            try GradientCheck.check(op, inputs: [rng.tensor([1, 4]), rng.tensor([3, 1])])
        }
        try GradientCheck.check("Div", inputs: [rng.tensor([2, 3]), positive([3])])
        try GradientCheck.check("Pow", inputs: [positive([2, 3]), rng.tensor([3], -1.5, 1.5)])
        // Opset 6 legacy broadcasting: B aligned at axis 1.
        try GradientCheck.check("Mul", attributes: ["broadcast": .int(1), "axis": .int(1)], opset: 6,
                                inputs: [rng.tensor([2, 3, 4]), rng.tensor([3])])
    }

    func testVariadic() throws {
        try GradientCheck.check("Sum", inputs: [rng.tensor([2, 3]), rng.tensor([3]), rng.tensor([2, 1])])
        try GradientCheck.check("Mean", inputs: [rng.tensor([2, 3]), rng.tensor([3])])
        // Max/Min: inputs well apart so no element is near a tie.
        let a = Tensor(shape: [2, 3], floats: [0, 1, 2, 3, 4, 5].map { Float($0) * 0.5 })
        let b = Tensor(shape: [3], floats: [1.2, -0.4, 2.7])
        try GradientCheck.check("Max", inputs: [a, b])
        try GradientCheck.check("Min", inputs: [a, b])
    }

    func testClipPReluWhere() throws {
        let x = Tensor(shape: [8], floats: [-1.2, -0.3, 0.4, 1.1, 2.5, 5.5, 6.4, 7.3])
        try GradientCheck.check("Clip", opset: 13, inputs: [x, Tensor.scalar(0), Tensor.scalar(6)], check: [0])
        try GradientCheck.check("Clip", attributes: ["min": .float(-0.5), "max": .float(2)], opset: 6, inputs: [x])
        try GradientCheck.check("PRelu", inputs: [away([2, 3, 2, 2]), rng.tensor([3, 1, 1], 0.1, 0.4)])
        let cond = Tensor(shape: [2, 3], ints: [1, 0, 1, 0, 0, 1], dtype: .bool)
        try GradientCheck.check("Where", inputs: [cond, rng.tensor([2, 3]), rng.tensor([3])], check: [1, 2])
    }

    func testSoftmaxBothOpsetSemantics() throws {
        for opset in [11, 13] {
            for axis in [1, -1] {
                try GradientCheck.check("Softmax", attributes: ["axis": .int(axis)], opset: opset, inputs: [rng.tensor([2, 3, 4], -2, 2)])
                try GradientCheck.check("LogSoftmax", attributes: ["axis": .int(axis)], opset: opset, inputs: [rng.tensor([2, 3, 4], -2, 2)])
            }
        }
    }

    func testReductions() throws {
        for op in ["ReduceSum", "ReduceMean", "ReduceL2", "ReduceLogSumExp", "ReduceSumSquare", "ReduceProd"] {
            try GradientCheck.check(op, attributes: ["axes": .ints([1]), "keepdims": .int(0)], opset: 11, inputs: [positive([2, 3, 4])])
            try GradientCheck.check(op, attributes: ["axes": .ints([0, 2])], opset: 11, inputs: [positive([2, 3, 4])])
        }
        try GradientCheck.check("ReduceL1", attributes: ["axes": .ints([2])], opset: 11, inputs: [away([2, 3, 4])])
        // ReduceMax/Min on distinct values (no ties).
        let d = Tensor(shape: [2, 3, 4], floats: (0..<24).map { Float(($0 * 7) % 24) * 0.1 })
        try GradientCheck.check("ReduceMax", attributes: ["axes": .ints([1])], opset: 11, inputs: [d])
        try GradientCheck.check("ReduceMin", attributes: ["axes": .ints([2]), "keepdims": .int(0)], opset: 11, inputs: [d])
        // Opset 18: axes as an input.
        try GradientCheck.check("ReduceMean", opset: 18, inputs: [positive([2, 3, 4]), Tensor.vector([Int64(-1)])], check: [0])
    }

    /// The three rules on Relu, ReLU6 (Clip 0..6) and LeakyRelu, by hand.
    func testReluRules() throws {
        let x = Tensor(shape: [4], floats: [-1, 2, 3, 7])
        let g = Tensor(shape: [4], floats: [5, -1, 2, 4])
        func grad(_ op: String, _ attrs: [String: Attribute] = [:], _ extra: [Tensor?] = [], _ rule: ReluRule) throws -> [Float] {
            let node = Node(name: "n", opType: op, inputs: (0...extra.count).map { "x\($0)" }, outputs: ["y"], attributes: attrs)
            let o = try OperatorRegistry.make(node, opset: 13)
            let ins: [Tensor?] = [x] + extra
            let y = try o.forward(ins)
            return try o.backward(ins, outputs: y, gradients: [g], wanted: [true] + extra.map { _ in false },
                                  rules: BackwardRules(relu: rule))[0]!.floats
        }
        // Relu: standard masks by x > 0; deconvnet keeps positive g; guided does both.
        XCTAssertEqual(try grad("Relu", [:], [], .standard), [0, -1, 2, 4])
        XCTAssertEqual(try grad("Relu", [:], [], .deconvnet), [5, 0, 2, 4])
        XCTAssertEqual(try grad("Relu", [:], [], .guided), [0, 0, 2, 4])
        // ReLU6: the upper clamp (x = 7 > 6) keeps its mask under every rule.
        let six: [Tensor?] = [Tensor.scalar(0), Tensor.scalar(6)]
        XCTAssertEqual(try grad("Clip", [:], six, .standard), [0, -1, 2, 0])
        XCTAssertEqual(try grad("Clip", [:], six, .deconvnet), [5, 0, 2, 0])
        XCTAssertEqual(try grad("Clip", [:], six, .guided), [0, 0, 2, 0])
        // LeakyRelu: slope on the negative side under standard, a ReLU under the other rules.
        XCTAssertEqual(try grad("LeakyRelu", ["alpha": .float(0.5)], [], .standard), [2.5, -1, 2, 4])
        XCTAssertEqual(try grad("LeakyRelu", ["alpha": .float(0.5)], [], .deconvnet), [5, 0, 2, 4])
        XCTAssertEqual(try grad("LeakyRelu", ["alpha": .float(0.5)], [], .guided), [0, 0, 2, 4])
    }

    func testNonDifferentiableOpsGiveNoGradient() throws {
        let node = Node(name: "n", opType: "ArgMax", inputs: ["x"], outputs: ["y"])
        let o = try OperatorRegistry.make(node, opset: 13)
        let x = rng.tensor([3, 4])
        let y = try o.forward([x])
        XCTAssertNil(try o.backward([x], outputs: y, gradients: [nil], wanted: [true], rules: .standard)[0])
    }
}
