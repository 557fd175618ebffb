import Foundation
import LoupeExplain
import LoupeFormats
import LoupeGraph
import LoupeSurgery
import LoupeTensor
import XCTest

/// One rule (`CAMTail`) decides whether a model is CAM-ready, for `explain --method cam` and
/// `surgery cam` alike. Fixtures: Tests/loupeTests/Fixtures/softmax (Scripts/fixtures/make-softmax-fixtures.py),
/// one trunk (Conv 3→4, Relu: 'features' [1, 4, 8, 8]) with different heads ending in Softmax.
final class CAMReadinessTests: XCTestCase {
    static let dir = SurgeryPassTests.root.appendingPathComponent("Tests/loupeTests/Fixtures/softmax")
    static func load(_ name: String) throws -> Graph { try ModelFile.load(path: dir.appendingPathComponent(name + ".onnx").path) }

    func testExplainAndSurgeryGiveTheSameAnswer() throws {
        let x = try NPY.read(path: Self.dir.appendingPathComponent("input.npy").path)
        let cases = [
            ("cam-gap-dropout-dense", true),   // GlobalAveragePool → Flatten → Dropout → Gemm
            ("cam-gap-identity-dense", true),  // Keras GAP → Dropout → Dense as imported: Dropout is an Identity
            ("cam-avgpool-dense", true),       // AveragePool over the whole 8×8 map
            ("cam-maxpool-dense", false),      // 2×2 MaxPool → Flatten → Gemm: no global pooling
        ]
        for (name, ready) in cases {
            let g = try Self.load(name)
            let why = try CAMHead.readyTail(g)
            XCTAssertEqual(why != nil, ready, "surgery cam on \(name): \(why ?? "refused")")
            let m = try ExplainableModel(graph: g)
            let request = GradientRequest(target: 1)
            if ready {
                XCTAssertTrue(why!.contains("followed by one linear layer 'fc'"), why!)
                // CAM = h·w × Grad-CAM at the pooled layer for this tail (Σ_k w_ck A_k vs Σ_k (w_ck / hw) A_k).
                let cam = try CAM.explain(m, x, request)
                XCTAssertEqual(cam.layer, "relu", name)
                let grad = try GradCAM.explain(m, x, request, layer: "relu")
                XCTAssertEqual(cam.map.shape, [8, 8])
                let scale = cam.map.floats.max()!
                XCTAssertGreaterThan(scale, 0.1, name)
                for i in 0..<64 { XCTAssertEqual(cam.map.floats[i], 64 * grad.map.floats[i], accuracy: 1e-5 * scale, name) }
            } else {
                XCTAssertThrowsError(try CAM.explain(m, x, request), name) { e in
                    let text = String(describing: e)
                    XCTAssertTrue(text.contains("not from a linear layer after global average pooling") || text.contains("not preceded by global average pooling"), text)
                    XCTAssertTrue(text.contains("loupe surgery cam"), text)
                }
            }
        }
    }

    /// The reason the rule gives for a refusal names the layer.
    func testTheRuleNamesWhyAModelIsRefused() throws {
        let g = try Self.load("cam-maxpool-dense")
        let scores = try ClassScores(g)
        guard case .failure(let e) = CAMTail.find(in: g, logits: scores.logits, types: [:]) else {
            return XCTFail("the MaxPool head is not CAM-ready")
        }
        XCTAssertEqual(e.reason, "the last linear layer 'fc' is not preceded by global average pooling")
    }
}

extension CAMReadinessTests {
    /// `CAMHead.build` keeps the final Softmax and the value-preserving ops after it: rebuilt
    /// with the model's own linear layer, the model gives onnxruntime's output, shape included.
    func testTheNewHeadKeepsTheOpsAfterTheSoftmax() throws {
        let x = try NPY.read(path: Self.dir.appendingPathComponent("input.npy").path)
        for name in ["softmax-chain", "softmax-unsqueeze", "softmax-reshape"] {
            let g = try Self.load(name)
            let want = try NPY.read(path: Self.dir.appendingPathComponent(name + "-ort.npy").path)
            let cam = try CAMHead.build(g, features: "features", weights: g.initializers["fc.w"]!.floats, bias: g.initializers["fc.b"]!.floats)
            let after = try ClassScores(g).passThrough.map(\.opType)
            XCTAssertFalse(after.isEmpty, name)
            XCTAssertEqual(Array(cam.nodes.map(\.opType).suffix(after.count + 2)), ["Gemm", "Softmax"] + after, name)
            XCTAssertNotNil(try CAMHead.readyTail(cam), name)
            let got = try Executor(graph: cam).run(["input": x])[g.outputs[0].name]!
            XCTAssertEqual(got.shape, want.shape, name)
            for i in 0..<want.count { XCTAssertEqual(got.floats[i], want.floats[i], accuracy: 1e-6, name) }
        }
    }
}

/// The issue's case on a real Keras file: GlobalAveragePooling2D → Dropout → Dense(softmax),
/// channels-last (Fixtures/keras-cam, Scripts/fixtures/make-keras-cam-fixture.py with tf-keras).
final class KerasCAMReadinessTests: XCTestCase {
    static let dir = SurgeryPassTests.root.appendingPathComponent("Tests/LoupeSurgeryTests/Fixtures/keras-cam")

    func testKerasGapDropoutDenseIsCAMReadyForExplainAndSurgeryAlike() throws {
        let g = try ModelFile.load(path: Self.dir.appendingPathComponent("gap-dropout-dense.h5").path)
        let why = try XCTUnwrap(try CAMHead.readyTail(g), "surgery cam refuses the Keras GAP → Dropout → Dense model")
        XCTAssertTrue(why.contains("GlobalAveragePool"), why)

        // Keras's probabilities from the file's own (NHWC) input.
        let xNHWC = try NPY.read(path: Self.dir.appendingPathComponent("input-nhwc.npy").path)
        let probs = try NPY.read(path: Self.dir.appendingPathComponent("probs.npy").path)
        let out = try Executor(graph: g).run([g.inputs[0].name: xNHWC])
        let got = try XCTUnwrap(out[g.outputs[0].name])
        for (a, b) in zip(got.floats, probs.floats) { XCTAssertEqual(a, b, accuracy: 1e-6) }

        // explain's CAM (on the NCHW input ExplainableModel gives a channels-last model)
        // equals the CAM computed from Keras's conv_b activations and Dense kernel.
        let m = try ExplainableModel(graph: g)
        let (h, w, c) = (xNHWC.shape[1], xNHWC.shape[2], xNHWC.shape[3])
        var nchw = [Float](repeating: 0, count: xNHWC.count)
        for y in 0..<h { for x in 0..<w { for ch in 0..<c { nchw[(ch * h + y) * w + x] = xNHWC.floats[(y * w + x) * c + ch] } } }
        let x = Tensor(shape: [1, c, h, w], floats: nchw)
        let wants = try (0..<probs.count).map { try NPY.read(path: Self.dir.appendingPathComponent("cam-t\($0).npy").path) }
        // One scale for all classes: a class whose every weighted sum is negative has an all-zero map.
        let scale = wants.flatMap(\.floats).max() ?? 0
        XCTAssertGreaterThan(scale, 0)
        for (t, want) in wants.enumerated() {
            let cam = try CAM.explain(m, x, GradientRequest(target: t))
            XCTAssertEqual(cam.map.shape, want.shape)
            for (a, b) in zip(cam.map.floats, want.floats) { XCTAssertEqual(a, b, accuracy: 1e-5 * scale, "class \(t)") }
        }
    }
}
