import Foundation
import LoupeGraph
import LoupeTensor
import XCTest

@testable import LoupeFormats

/// Keras models written by Scripts/fixtures/make-keras-fixtures.py, run by Loupe and compared with
/// the outputs Keras itself computed (saved beside them as .npy).
final class KerasImportTests: XCTestCase {
    static func kerasFixture(_ name: String) -> String { fixture("keras/\(name)") }

    /// Runs `model` on `<stem>_input.npy` and compares output i with `<stem>_output<i>.npy`:
    /// probabilities (output 0) within 1e-5 absolute, feature maps within 1e-4·(1 + |y|).
    private func check(_ model: String, stem: String, config: String? = nil, outputs: Int = 1,
                       file: StaticString = #filePath, line: UInt = #line) throws -> Graph {
        let g = try ModelFile.load(path: Self.kerasFixture(model), config: config.map(Self.kerasFixture))
        XCTAssertEqual(g.opset, 13, file: file, line: line)
        XCTAssertEqual(g.outputs.count, outputs, file: file, line: line)
        for n in g.nodes { XCTAssertEqual(n.domain, "", "\(n.label)", file: file, line: line) }
        let x = try NPY.read(path: Self.kerasFixture("\(stem)_input.npy"))
        let ex = try Executor(graph: g)
        let ys = try ex.run([g.inputs[0].name: x])
        for i in 0..<outputs {
            let want = try NPY.read(path: Self.kerasFixture("\(stem)_output\(i).npy"))
            let got = try XCTUnwrap(ys[g.outputs[i].name], file: file, line: line)
            XCTAssertEqual(got.shape, want.shape, "output \(i)", file: file, line: line)
            guard got.shape == want.shape else { continue }
            var worst: Float = 0
            for (a, b) in zip(got.floats, want.floats) {
                let err = i == 0 ? abs(a - b) : abs(a - b) / (1 + abs(b))
                worst = max(worst, err.isNaN ? .infinity : err)
            }
            print("keras numerics: \(model) output \(i) \(describe(got.shape)) worst error \(worst)")
            XCTAssertLessThanOrEqual(worst, i == 0 ? 1e-5 : 1e-4, "\(model) output \(i) (\(g.outputs[i].name))", file: file, line: line)
        }
        return g
    }

    func testFunctionalKerasArchiveMatchesKeras() throws {
        let g = try check("k3_functional.keras", stem: "k3_functional", outputs: 3)
        XCTAssertEqual(g.inputs[0].name, "image")
        XCTAssertEqual(g.inputs[0].dims?.map(\.description), ["batch", "16", "16", "3"])
        let byName = Dictionary(g.nodes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        func cls(_ n: String) -> String? {
            if case .string(let s)? = byName[n]?.attributes[KerasGraphBuilder.classAttribute] { return s }
            return nil
        }
        // A layer with an activation: Conv then Relu, the Relu carrying the layer name.
        XCTAssertEqual(byName["conv_a"]?.opType, "Relu")
        XCTAssertEqual(byName["conv_a/conv"]?.opType, "Conv")
        XCTAssertEqual(cls("conv_a"), "Conv2D")
        XCTAssertEqual(cls("bn_a"), "BatchNormalization")
        XCTAssertEqual(cls("dw"), "DepthwiseConv2D")
        // The shared layer's second call, and the nested model's layers under their own names.
        XCTAssertEqual(byName["shared_conv"]?.opType, "Conv")
        XCTAssertEqual(byName["shared_conv/1"]?.opType, "Conv")
        XCTAssertEqual(cls("block_conv"), "Conv2D")
        XCTAssertEqual(byName["probs"]?.opType, "Softmax")
    }

    func testFunctionalH5WrittenByKeras3MatchesKeras() throws {
        _ = try check("k3_functional.h5", stem: "k3_functional", outputs: 3)
    }

    func testSequentialInEveryFormat() throws {
        for (model, config) in [("k3_sequential.keras", nil), ("k3_sequential.h5", nil),
                                ("k3_sequential.weights.h5", "k3_sequential_config.json")] {
            let g = try check(model, stem: "k3_sequential", config: config)
            XCTAssertTrue(g.nodes.contains { $0.name == "c2" && $0.opType == "Conv" }, model)
        }
    }

    func testNestedModelCalledTwiceSharesItsWeights() throws {
        let g = try check("k3_nested.keras", stem: "k3_nested")
        XCTAssertEqual(g.nodes.first { $0.name == "inner_conv/1/conv" }?.inputs[1], g.nodes.first { $0.name == "inner_conv/conv" }?.inputs[1])
        // stem 4·3 + 4, inner conv 4·4·9 + 4, inner BN 4·4, dense 8·3 + 3: each counted once.
        XCTAssertEqual(g.parameterCount, 16 + 148 + 16 + 27)
    }

    func testChannelsFirst() throws {
        let g = try check("k3_channels_first.keras", stem: "k3_channels_first")
        XCTAssertFalse(g.nodes.contains { $0.opType == "Transpose" && $0.name.hasSuffix("/to_nchw") })
    }

    func testKeras2FullModel() throws {
        let g = try check("k2_functional.h5", stem: "k2_functional")
        XCTAssertEqual(g.metadata["producer"], "keras 2")
        XCTAssertEqual(g.nodes.first { $0.name == "hs" }?.opType, "HardSigmoid")
    }

    func testKeras2SequentialWithoutInputLayer() throws {
        let g = try check("k2_sequential.h5", stem: "k2_sequential")
        XCTAssertEqual(g.inputs[0].dims?.map(\.description), ["batch", "12", "12", "1"])
    }

    func testKeras2ChunkedFixedLengthAttributes() throws {
        _ = try check("k2_chunked.h5", stem: "k2_functional")
    }

    func testKeras2WeightsOnlyWithConfig() throws {
        _ = try check("k2_weights_only.h5", stem: "k2_functional", config: "k2_config.json")
    }

    func testSaveNames() {
        XCTAssertEqual(SaveNamer.snakeCase("Conv2D"), "conv2d")
        XCTAssertEqual(SaveNamer.snakeCase("BatchNormalization"), "batch_normalization")
        XCTAssertEqual(SaveNamer.snakeCase("GlobalAveragePooling2D"), "global_average_pooling2d")
        XCTAssertEqual(SaveNamer.snakeCase("Conv2DTranspose"), "conv2d_transpose")
        XCTAssertEqual(SaveNamer.snakeCase("PReLU"), "p_re_lu")
        var n = SaveNamer()
        XCTAssertEqual([n.next("Conv2D"), n.next("Dense"), n.next("Conv2D"), n.next("Conv2D")], ["conv2d", "dense", "conv2d_1", "conv2d_2"])
    }
}
