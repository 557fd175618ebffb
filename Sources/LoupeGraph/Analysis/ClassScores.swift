import Foundation
import LoupeTensor

/// Where a classifier's class scores are: the one rule `predict`, every explanation and
/// `surgery cam` use.
///
/// Walking back from the first graph output through ops that leave values unchanged at
/// inference (`isValuePreserving`: Identity, Reshape, Flatten, Squeeze, Unsqueeze, Dropout,
/// Cast to float), a Softmax or LogSoftmax met there is the graph's final softmax and its
/// input holds the logits; otherwise the output itself is the scores. Those ops keep the
/// element order, so item i of the output is item i of the softmax's output.
public struct ClassScores: Sendable {
    /// The class scores before any final softmax (the softmax's input, or the output).
    public var logits: String
    /// The first graph output.
    public var output: String
    /// The final Softmax or LogSoftmax, nil when the graph does not end in one.
    public var softmax: Node?
    /// The value-preserving nodes between the softmax (or the logits) and the output, in
    /// execution order.
    public var passThrough: [Node]

    /// True when the graph ends in a Softmax or LogSoftmax (possibly followed by
    /// value-preserving ops).
    public var endsInSoftmax: Bool { softmax != nil }

    /// Finds the class scores of `graph`; throws when the graph has no output.
    public init(_ graph: Graph) throws {
        guard let out = graph.outputs.first?.name else { throw LoupeError.invalid("the model has no output") }
        var producer: [String: Node] = [:]
        for n in graph.nodes { for o in n.outputs where !o.isEmpty { producer[o] = n } }
        output = out
        var chain: [Node] = []
        var t = out
        while let n = producer[t], Self.isValuePreserving(n), n.outputs.first == t, let next = n.inputs.first, !next.isEmpty,
              !chain.contains(where: { $0.name == n.name }) {
            chain.append(n)
            t = next
        }
        if let n = producer[t], Self.isONNX(n), n.opType == "Softmax" || n.opType == "LogSoftmax", let x = n.inputs.first, !x.isEmpty {
            softmax = n
            logits = x
            passThrough = chain.reversed()
        } else {
            // No softmax behind the chain: the output itself is the scores.
            softmax = nil
            logits = out
            passThrough = []
        }
    }

    /// Whether `node`'s first output equals its first input, element for element, at
    /// inference: Identity, Reshape, Flatten, Squeeze, Unsqueeze, Dropout, and Cast to FLOAT
    /// (of a float tensor; the scores are float).
    public static func isValuePreserving(_ node: Node) -> Bool {
        guard isONNX(node) else { return false }
        switch node.opType {
        case "Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Dropout": return true
        case "Cast": return (try? Attributes(node.attributes, owner: node.label).int("to")) == Int(DType.float32.rawValue)
        default: return false
        }
    }

    static func isONNX(_ n: Node) -> Bool { n.domain.isEmpty || n.domain == "ai.onnx" }

    /// Class probabilities for rows of class scores: the one rule `predict` and `atlas` use.
    ///
    /// - `logits`: per row, the values of `logits` (the class scores);
    /// - `softmaxOutputs`: per row, the values of `output` when the graph ends in a softmax
    ///   (the same length as the row; exponentiated for a LogSoftmax), nil otherwise.
    ///
    /// Without a final softmax, when every row already is a distribution
    /// (`rowsAreProbabilities`), the scores are the probabilities as they are
    /// (`givenAsProbabilities`); otherwise each row's softmax is taken.
    public func probabilities(logits: [[Float]], softmaxOutputs: [[Float]]?) -> (rows: [[Float]], givenAsProbabilities: Bool) {
        if let softmax, let outs = softmaxOutputs, outs.count == logits.count,
           zip(outs, logits).allSatisfy({ $0.count == $1.count }) {
            return (softmax.opType == "LogSoftmax" ? outs.map { $0.map { Float(exp(Double($0))) } } : outs, false)
        }
        let given = !endsInSoftmax && !logits.isEmpty
            && logits.allSatisfy { Self.rowsAreProbabilities(Tensor(shape: [1, $0.count], floats: $0)) }
        return (given ? logits : logits.map(LoupeTensor.softmax), given)
    }

    /// Whether every row of `t` (its last axis) is a probability distribution: all values
    /// non-negative and finite, each row summing to 1 within `tolerance`.
    public static func rowsAreProbabilities(_ t: Tensor, tolerance: Double = 1e-4) -> Bool {
        guard t.isFloat, let k = t.shape.last, k > 0, t.count > 0 else { return false }
        let f = t.floats
        for r in 0..<(t.count / k) {
            var s = 0.0
            for v in f[(r * k)..<((r + 1) * k)] {
                guard v >= 0, v.isFinite else { return false }
                s += Double(v)
            }
            if abs(s - 1) > tolerance { return false }
        }
        return true
    }
}
