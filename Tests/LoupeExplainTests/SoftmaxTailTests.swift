import Foundation
import LoupeExplain
import LoupeFormats
import LoupeGraph
import LoupeTensor
import XCTest

/// A graph ending in Softmax followed by value-preserving ops (Identity, Reshape, Flatten,
/// Squeeze, Unsqueeze, Dropout, Cast to float) is explained on the softmax's input, as if it
/// ended in the Softmax. Fixtures: Tests/loupeTests/Fixtures/softmax, made by
/// Scripts/fixtures/make-softmax-fixtures.py; every model shares the weights of `logits.onnx`, whose
/// class 1 leads by 14.5, so the probability saturates (1 − p ≈ 7.5e-7).
final class SoftmaxTailTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let dir = root.appendingPathComponent("Tests/loupeTests/Fixtures/softmax")
    static let chains: [String: [String]] = [
        "reshape": ["Reshape"], "identity": ["Identity"], "flatten": ["Flatten"], "dropout": ["Dropout"],
        "cast": ["Cast"], "unsqueeze": ["Unsqueeze"], "unsqueeze-squeeze": ["Unsqueeze", "Squeeze"],
        "chain": ["Unsqueeze", "Dropout", "Cast", "Squeeze", "Identity", "Flatten", "Reshape"],
    ]

    static func load(_ name: String) throws -> Graph { try ModelFile.load(path: dir.appendingPathComponent(name + ".onnx").path) }
    static func npy(_ name: String) throws -> Tensor { try NPY.read(path: dir.appendingPathComponent(name + ".npy").path) }

    func testClassScoresSeeThroughValuePreservingOps() throws {
        for (name, ops) in Self.chains {
            let s = try ClassScores(Self.load("softmax-" + name))
            XCTAssertTrue(s.endsInSoftmax, name)
            XCTAssertEqual(s.softmax?.opType, "Softmax", name)
            XCTAssertEqual(s.logits, "logits", name)
            XCTAssertEqual(s.passThrough.map(\.opType), ops, name)
        }
        let plain = try ClassScores(Self.load("logits"))
        XCTAssertFalse(plain.endsInSoftmax)
        XCTAssertEqual(plain.logits, "logits")
        // Exp / ReduceSum / Div is no Softmax op: the output is the scores.
        let probs = try ClassScores(Self.load("probabilities"))
        XCTAssertFalse(probs.endsInSoftmax)
        XCTAssertEqual(probs.logits, "probs")
    }

    func testCastToAnotherTypeIsNotValuePreserving() {
        let toFloat = Node(name: "c", opType: "Cast", inputs: ["a"], outputs: ["b"], attributes: ["to": .int(1)])
        let toInt = Node(name: "c", opType: "Cast", inputs: ["a"], outputs: ["b"], attributes: ["to": .int(7)])
        XCTAssertTrue(ClassScores.isValuePreserving(toFloat))
        XCTAssertFalse(ClassScores.isValuePreserving(toInt))
        XCTAssertFalse(ClassScores.isValuePreserving(Node(name: "r", opType: "Relu", inputs: ["a"], outputs: ["b"])))
    }

    func testRowsAreProbabilities() {
        XCTAssertTrue(ClassScores.rowsAreProbabilities(Tensor(shape: [2, 3], floats: [0.2, 0.3, 0.5, 1, 0, 0])))
        XCTAssertFalse(ClassScores.rowsAreProbabilities(Tensor(shape: [2, 3], floats: [0.2, 0.3, 0.5, 1, 0, 0.001])))
        XCTAssertFalse(ClassScores.rowsAreProbabilities(Tensor(shape: [1, 3], floats: [1.2, -0.2, 0])))
        XCTAssertTrue(ClassScores.rowsAreProbabilities(Tensor(shape: [1, 3], floats: [0.2, 0.3, 0.50009])))
    }

    /// The model's logits are onnxruntime's logits, and gradient maps (on the logit and on the
    /// probability) equal those of the same network without the softmax tail.
    func testExplanationsUseTheSoftmaxInput() throws {
        let x = try Self.npy("input")
        let want = try Self.npy("logits-ort")
        let base = try ExplainableModel(graph: Self.load("logits"))
        func close(_ a: Tensor, _ b: Tensor, _ what: String) {
            XCTAssertEqual(a.shape, b.shape, what)
            let scale = b.floats.map(abs).max()!
            // On the logit the maps have real size; on the saturated probability (1 − p ≈ 8e-7) they are tiny.
            XCTAssertGreaterThan(scale, what.hasSuffix("probability") ? 1e-8 : 1e-2, "\(what): a map of the expected size")
            for i in 0..<b.count { XCTAssertEqual(a.floats[i], b.floats[i], accuracy: 1e-5 * scale, what) }
        }
        var occlusion = Occlusion.Settings()
        (occlusion.window, occlusion.stride) = ((4, 4), (2, 2))
        var reference: [String: Tensor] = [:]
        for score in ExplainableModel.ScoreKind.allCases {
            let r = GradientRequest(target: 1, score: score)
            reference["grad-cam \(score)"] = try GradCAM.explain(base, x, r).map
            reference["saliency \(score)"] = try Saliency.explain(base, x, r).map
        }
        for name in Self.chains.keys {
            let m = try ExplainableModel(graph: Self.load("softmax-" + name))
            XCTAssertTrue(m.endsInSoftmax, name)
            XCTAssertEqual(m.logitsName, "logits", name)
            let (logits, _) = try m.forward(x)
            for i in 0..<want.count { XCTAssertEqual(logits[i], want.floats[i], accuracy: 1e-4, name) }
            for score in ExplainableModel.ScoreKind.allCases {
                let r = GradientRequest(target: 1, score: score)
                close(try GradCAM.explain(m, x, r).map, reference["grad-cam \(score)"]!, "\(name) grad-cam \(score)")
                close(try Saliency.explain(m, x, r).map, reference["saliency \(score)"]!, "\(name) saliency \(score)")
            }
            close(try Occlusion.explain(m, x, GradientRequest(target: 1), settings: occlusion).map,
                  try Occlusion.explain(base, x, GradientRequest(target: 1), settings: occlusion).map, "\(name) occlusion")
        }
    }
}
