import Foundation
import LoupeGraph
import LoupeTensor
import LoupeTestSupport
import XCTest

/// Finite-difference check of an operator's backward rule (STYLE.md habit 7).
///
/// Builds the op from `opType`/`attributes`, runs forward on `inputs`, draws a fixed random
/// cotangent `v` for each float output, and compares the backward rule's gradient for every
/// float input in `check` with central differences of L = Σ v·y, accumulated in Double.
/// Keep inputs away from kinks (ReLU at 0, max-pool ties) so the check is meaningful.
enum GradientCheck {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func check(
        _ opType: String, attributes: [String: Attribute] = [:], opset: Int = 17, outputs: Int = 1,
        inputs: [Tensor?], check: Set<Int>? = nil, eps: Double = 1e-3, tolerance: Double = 2e-3,
        rules: BackwardRules = .standard, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let node = Node(name: "n", opType: opType, inputs: inputs.indices.map { inputs[$0] == nil ? "" : "x\($0)" },
                        outputs: (0..<outputs).map { "y\($0)" }, attributes: attributes)
        let op = try OperatorRegistry.make(node, opset: opset)
        let outs = try op.forward(inputs)
        var rng = SeededRandom(seed: 42)
        let cotangents: [Tensor?] = outs.map { o in
            o.isFloat ? Tensor(shape: o.shape, floats: (0..<o.count).map { _ in rng.uniform(-1, 1) }) : nil
        }
        func loss(_ xs: [Tensor?]) throws -> Double {
            let ys = try op.forward(xs)
            var s = 0.0
            for (y, v) in zip(ys, cotangents) {
                guard let v else { continue }
                for i in 0..<y.count { s += Double(y.floats[i]) * Double(v.floats[i]) }
            }
            return s
        }
        let which = check ?? Set(inputs.indices.filter { inputs[$0]?.isFloat ?? false })
        let wanted = inputs.indices.map { which.contains($0) }
        let grads = try op.backward(inputs, outputs: outs, gradients: cotangents, wanted: wanted, rules: rules)
        for k in which.sorted() {
            guard let x = inputs[k] else { continue }
            guard k < grads.count, let g = grads[k] else {
                XCTFail("\(opType): no gradient for input \(k)", file: file, line: line)
                continue
            }
            XCTAssertEqual(g.shape, x.shape, "\(opType): gradient shape for input \(k)", file: file, line: line)
            var worst = 0.0, worstAt = 0, scale = 1e-6
            var numeric = [Double](repeating: 0, count: x.count)
            for i in 0..<x.count {
                var plus = inputs, minus = inputs
                plus[k]!.floats[i] += Float(eps)
                minus[k]!.floats[i] -= Float(eps)
                let h = Double(plus[k]!.floats[i]) - Double(minus[k]!.floats[i])
                numeric[i] = (try loss(plus) - loss(minus)) / h
                scale = max(scale, abs(numeric[i]))
            }
            for i in 0..<x.count {
                let err = abs(Double(g.floats[i]) - numeric[i])
                if err > worst { worst = err; worstAt = i }
            }
            XCTAssertLessThanOrEqual(worst / scale, tolerance,
                "\(opType) input \(k): analytic \(g.floats[worstAt]) vs numeric \(numeric[worstAt]) at \(worstAt) (relative to max |grad| \(scale))",
                file: file, line: line)
        }
    }
}
