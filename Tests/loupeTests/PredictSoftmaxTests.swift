import Foundation
import LoupeFormats
import LoupeTensor
import XCTest

/// `loupe predict` on models whose class scores end in Softmax followed by value-preserving
/// ops, and on a model whose outputs are probabilities without a Softmax op, against
/// onnxruntime (Tests/loupeTests/Fixtures/softmax, made by Scripts/fixtures/make-softmax-fixtures.py).
final class PredictSoftmaxTests: XCTestCase {
    static let dir = CLITests.fixtures.appendingPathComponent("softmax")
    static let input = dir.appendingPathComponent("input.npy").path

    func predict(_ model: String) throws -> (entries: [[String: Any]], stderr: String) {
        let r = try CLITests.run(["predict", Self.dir.appendingPathComponent(model + ".onnx").path,
                                  "--input-npy", Self.input, "--top", "5", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]], r.stdout)
        return (try XCTUnwrap(doc.first?["predictions"] as? [[String: Any]]), r.stderr)
    }

    func ort(_ name: String) throws -> [Float] {
        try NPY.read(path: Self.dir.appendingPathComponent(name + "-ort.npy").path).floats
    }

    /// Softmax then Identity, Reshape, Flatten, Squeeze, Unsqueeze, Dropout or Cast: the
    /// probabilities are onnxruntime's (no second softmax), the logits the softmax's input.
    func testSoftmaxFollowedByValuePreservingOpsIsNotSoftmaxedTwice() throws {
        let logits = try ort("logits")
        for chain in ["reshape", "identity", "flatten", "dropout", "cast", "unsqueeze", "unsqueeze-squeeze", "chain"] {
            let name = "softmax-" + chain
            let want = try ort(name)
            let (entries, stderr) = try predict(name)
            XCTAssertEqual(entries.count, 5, name)
            XCTAssertEqual(entries.first?["index"] as? Int, 1, name)
            for e in entries {
                let i = e["index"] as! Int
                XCTAssertEqual(e["probability"] as! Double, Double(want[i]), accuracy: 1e-5, "\(name) class \(i)")
                XCTAssertEqual(e["logit"] as! Double, Double(logits[i]), accuracy: 1e-4, "\(name) class \(i)")
            }
            XCTAssertEqual(entries[0]["probability"] as! Double, 1, accuracy: 1e-5, name)
            XCTAssertFalse(stderr.contains("probabilities"), stderr)
        }
        // The text output shows the saturated probability as onnxruntime does.
        let r = try CLITests.run(["predict", Self.dir.appendingPathComponent("softmax-reshape.onnx").path, "--input-npy", Self.input, "--top", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("100.00%      1  (logit 16.5000)"), r.stdout)
    }

    /// Outputs that are non-negative and sum to 1 per row, without a Softmax op, are shown as
    /// they are, with a note on stderr; raw scores still get a softmax.
    func testProbabilityOutputsWithoutSoftmaxAreShownAsProbabilities() throws {
        let want = try ort("probabilities")
        let (entries, stderr) = try predict("probabilities")
        XCTAssertEqual(entries.count, 5)
        for e in entries {
            let i = e["index"] as! Int
            XCTAssertEqual(e["probability"] as! Double, Double(want[i]), accuracy: 1e-6, "class \(i)")
            XCTAssertNil(e["logit"], "no logit is known")
        }
        XCTAssertTrue(stderr.contains("'probs'") && stderr.contains("shown as probabilities"), stderr)

        let logits = try ort("logits")
        let (raw, note) = try predict("logits")
        let m = Double(logits.max()!), z = logits.reduce(0.0) { $0 + exp(Double($1) - m) }
        for e in raw {
            let i = e["index"] as! Int
            XCTAssertEqual(e["probability"] as! Double, exp(Double(logits[i]) - m) / z, accuracy: 1e-6)
        }
        XCTAssertFalse(note.contains("shown as probabilities"), note)
    }
}
