import Foundation
import LoupeGraph
import LoupeTensor
import XCTest

/// Hand-computed checks of the element-wise, activation and reduction ops, focused on the
/// opset differences (Softmax 11 vs 13, Clip 6 vs 11, PRelu's legacy channel slope).
final class ElementwiseOpsTests: XCTestCase {
    /// Builds `op` through the registry at `opset`, checks that `infer` agrees with the shapes
    /// and dtypes `forward` produces, and returns the outputs.
    func run(_ op: String, opset: Int, _ inputs: [Tensor?], _ attributes: [String: Attribute] = [:],
             outputs: Int = 1) throws -> [Tensor] {
        let names = inputs.enumerated().map { $0.element == nil ? "" : "in\($0.offset)" }
        let node = Node(name: "n", opType: op, inputs: names, outputs: (0..<outputs).map { "out\($0)" },
                        attributes: attributes)
        let o = try OperatorRegistry.make(node, opset: opset)
        let types = try o.infer(inputs.map { $0.map { TensorType($0.dtype, $0.shape) } }, constants: inputs)
        let out = try o.forward(inputs)
        XCTAssertEqual(types, out.map { TensorType($0.dtype, $0.shape) }, "\(op) infer vs forward")
        return out
    }

    func assertClose(_ got: Tensor, _ want: [Float], shape: [Int], tol: Float = 1e-6,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.shape, shape, file: file, line: line)
        XCTAssertEqual(got.floats.count, want.count, file: file, line: line)
        for (g, w) in zip(got.floats, want) {
            XCTAssertEqual(g, w, accuracy: tol, file: file, line: line)
        }
    }

    // x = [[[0, ln 2], [ln 3, 0]]], exp(x) = [[[1, 2], [3, 1]]].
    let softmaxInput = Tensor(shape: [1, 2, 2], floats: [0, Float(log(2.0)), Float(log(3.0)), 0])

    func testSoftmaxOpset11FlattensTrailingDims() throws {
        // Default axis 1: one group of all four values, sum of exps 7.
        let y = try run("Softmax", opset: 11, [softmaxInput])[0]
        assertClose(y, [1.0 / 7, 2.0 / 7, 3.0 / 7, 1.0 / 7], shape: [1, 2, 2])
    }

    func testSoftmaxOpset13UsesOneAxis() throws {
        // Default axis -1: rows (1, 2) and (3, 1).
        let y = try run("Softmax", opset: 13, [softmaxInput])[0]
        assertClose(y, [1.0 / 3, 2.0 / 3, 3.0 / 4, 1.0 / 4], shape: [1, 2, 2])
        // axis 1 alone: columns (1, 3) and (2, 1).
        let z = try run("Softmax", opset: 13, [softmaxInput], ["axis": .int(1)])[0]
        assertClose(z, [1.0 / 4, 2.0 / 3, 3.0 / 4, 1.0 / 3], shape: [1, 2, 2])
        // LogSoftmax follows the same rule.
        let l = try run("LogSoftmax", opset: 13, [softmaxInput])[0]
        assertClose(l, [log(1.0 / 3), log(2.0 / 3), log(3.0 / 4), log(1.0 / 4)].map { Float($0) }, shape: [1, 2, 2])
        let l11 = try run("LogSoftmax", opset: 11, [softmaxInput])[0]
        assertClose(l11, [log(1.0 / 7), log(2.0 / 7), log(3.0 / 7), log(1.0 / 7)].map { Float($0) }, shape: [1, 2, 2])
    }

    func testReduceKeepdimsZero() throws {
        let x = Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
        // ReduceMean opset 13: axes attribute.
        let m = try run("ReduceMean", opset: 13, [x], ["axes": .ints([1]), "keepdims": .int(0)])[0]
        assertClose(m, [2, 5], shape: [2])
        // ReduceSum opset 13: axes input.
        let s = try run("ReduceSum", opset: 13, [x, .vector([Int64(-2)])], ["keepdims": .int(0)])[0]
        assertClose(s, [5, 7, 9], shape: [3])
        // No axes: everything, keepdims 1 by default.
        let mx = try run("ReduceMax", opset: 11, [x])[0]
        assertClose(mx, [6], shape: [1, 1])
        // noop_with_empty_axes: identity.
        let id = try run("ReduceSum", opset: 13, [x], ["noop_with_empty_axes": .int(1)])[0]
        assertClose(id, [1, 2, 3, 4, 5, 6], shape: [2, 3])
        // ReduceL2 over axis 0 (opset 18 input): sqrt(1+16), sqrt(4+25), sqrt(9+36).
        let l2 = try run("ReduceL2", opset: 18, [x, .vector([Int64(0)])], ["keepdims": .int(0)])[0]
        assertClose(l2, [17, 29, 45].map { Float($0).squareRoot() }, shape: [3], tol: 1e-5)
        // Integers: ReduceProd over axis 1 keeps the dtype.
        let xi = Tensor(shape: [2, 3], ints: [1, 2, 3, 4, 5, 6], dtype: .int32)
        let p = try run("ReduceProd", opset: 13, [xi], ["axes": .ints([1]), "keepdims": .int(0)])[0]
        XCTAssertEqual(p.dtype, .int32)
        XCTAssertEqual(p.ints, [6, 120])
        // ReduceLogSumExp of (0, ln 3) is ln 4.
        let lse = try run("ReduceLogSumExp", opset: 13, [Tensor(shape: [2], floats: [0, Float(log(3.0))])],
                          ["keepdims": .int(0)])[0]
        assertClose(lse, [Float(log(4.0))], shape: [])
    }

    func testClipOpset6AttributesVsOpset11Inputs() throws {
        let x = Tensor(shape: [3], floats: [-3, 0.5, 5])
        let a = try run("Clip", opset: 6, [x], ["min": .float(-1), "max": .float(2)])[0]
        assertClose(a, [-1, 0.5, 2], shape: [3])
        // Opset 11: min as input, max omitted (unbounded above); attributes no longer exist.
        let b = try run("Clip", opset: 11, [x, .scalar(0), nil])[0]
        assertClose(b, [0, 0.5, 5], shape: [3])
        let c = try run("Clip", opset: 11, [x, nil, .scalar(1)])[0]
        assertClose(c, [-3, 0.5, 1], shape: [3])
        // Opset 12: integers.
        let xi = Tensor(shape: [3], ints: [-100, 7, 100], dtype: .int8)
        let d = try run("Clip", opset: 12, [xi, Tensor(shape: [], ints: [-5], dtype: .int8),
                                             Tensor(shape: [], ints: [50], dtype: .int8)])[0]
        XCTAssertEqual(d.ints, [-5, 7, 50])
        XCTAssertEqual(d.dtype, .int8)
    }

    func testPReluBroadcasting() throws {
        let x = Tensor(shape: [1, 2, 2], floats: [-1, 2, -3, 4])
        // Opset 9: slope [2, 1] broadcasts over the channel dimension.
        let a = try run("PRelu", opset: 9, [x, Tensor(shape: [2, 1], floats: [0.5, 0.1])])[0]
        assertClose(a, [-0.5, 2, -0.3, 4], shape: [1, 2, 2])
        // Opset 9: slope [2] aligns with the last dimension (NumPy rule).
        let b = try run("PRelu", opset: 9, [x, .vector([Float(0.5), 0.1])])[0]
        assertClose(b, [-0.5, 2, -1.5, 4], shape: [1, 2, 2])
        // Opset 6: a 1-D slope of length C is per channel (dimension 1).
        let c = try run("PRelu", opset: 6, [x, .vector([Float(0.5), 0.1])])[0]
        assertClose(c, [-0.5, 2, -0.3, 4], shape: [1, 2, 2])
        // A slope that would grow X is refused.
        XCTAssertThrowsError(try run("PRelu", opset: 9, [x, Tensor(shape: [3, 1, 1], floats: [1, 1, 1])]))
    }

    func testCastTruncatesAndRounds() throws {
        let x = Tensor(shape: [4], floats: [-1.7, 2.9, .nan, 300])
        let i = try run("Cast", opset: 13, [x], ["to": .int(Int(DType.int32.rawValue))])[0]
        XCTAssertEqual(i.ints, [-1, 2, 0, 300])
        let u = try run("Cast", opset: 13, [x], ["to": .int(Int(DType.uint8.rawValue))])[0]
        XCTAssertEqual(u.ints, [255, 2, 0, 44])  // -1 wraps to 255, 300 to 44
        // Opset 1 names the type.
        let b = try run("Cast", opset: 1, [x], ["to": .string("BOOL")])[0]
        XCTAssertEqual(b.ints, [1, 1, 1, 1])
        XCTAssertEqual(b.dtype, .bool)
        // float16: 1 + 2^-11 ties to 1, 1 + 3·2^-11 ties to 1 + 2^-9, 70000 overflows.
        let h = try run("Cast", opset: 13, [Tensor(shape: [3], floats: [1 + 0x1p-11, 1 + 3 * 0x1p-11, 70000])],
                        ["to": .int(Int(DType.float16.rawValue))])[0]
        XCTAssertEqual(h.dtype, .float16)
        XCTAssertEqual(h.floats, [1, 1 + 0x1p-9, .infinity])
        XCTAssertThrowsError(try run("Cast", opset: 13, [x], ["to": .int(8)]))  // STRING
    }

    func testIntegerArithmetic() throws {
        let a = Tensor(shape: [3], ints: [-7, 7, 5], dtype: .int32)
        let b = Tensor(shape: [3], ints: [2, -2, 0], dtype: .int32)
        XCTAssertEqual(try run("Div", opset: 14, [a, b])[0].ints, [-3, -3, 0])
        XCTAssertEqual(try run("Pow", opset: 15, [a, Tensor(shape: [], ints: [3], dtype: .int64)])[0].ints,
                       [-343, 343, 125])
        let p = try run("Pow", opset: 15, [Tensor(shape: [2], floats: [2, 3]), Tensor(shape: [2], ints: [3, -1], dtype: .int64)])[0]
        assertClose(p, [8, 1.0 / 3], shape: [2])
        XCTAssertEqual(try run("Max", opset: 13, [a, b, Tensor(shape: [1], ints: [1], dtype: .int32)])[0].ints, [2, 7, 5])
    }

    func testComparisonsAndWhere() throws {
        let a = Tensor(shape: [2, 2], floats: [1, 2, 3, 4])
        let b = Tensor(shape: [2], floats: [2, 2])
        let lt = try run("Less", opset: 13, [a, b])[0]
        XCTAssertEqual(lt.dtype, .bool)
        XCTAssertEqual(lt.ints, [1, 0, 0, 0])
        XCTAssertEqual(try run("GreaterOrEqual", opset: 16, [a, b])[0].ints, [0, 1, 1, 1])
        let w = try run("Where", opset: 16, [lt, a, .scalar(-1)])[0]
        assertClose(w, [1, -1, -1, -1], shape: [2, 2])
        XCTAssertEqual(try run("Not", opset: 1, [lt])[0].ints, [0, 1, 1, 1])
    }

    func testArgMaxSelectLastIndex() throws {
        let x = Tensor(shape: [2, 3], floats: [1, 5, 5, 7, 0, 7])
        let first = try run("ArgMax", opset: 13, [x], ["axis": .int(1), "keepdims": .int(0)])[0]
        XCTAssertEqual(first.ints, [1, 0])
        XCTAssertEqual(first.shape, [2])
        let last = try run("ArgMax", opset: 13, [x], ["axis": .int(1), "select_last_index": .int(1)])[0]
        XCTAssertEqual(last.ints, [2, 2])
        XCTAssertEqual(last.shape, [2, 1])
        XCTAssertEqual(try run("ArgMin", opset: 13, [x])[0].ints, [0, 1, 0])
    }

    func testDropoutMask() throws {
        let x = Tensor(shape: [2], floats: [1, 2])
        let out = try run("Dropout", opset: 13, [x, .scalar(0.3)], outputs: 2)
        assertClose(out[0], [1, 2], shape: [2])
        XCTAssertEqual(out[1].dtype, .bool)
        XCTAssertEqual(out[1].ints, [1, 1])
    }
}
