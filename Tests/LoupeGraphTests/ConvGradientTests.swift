import LoupeGraph
import LoupeTensor
import LoupeTestSupport
import XCTest

/// Finite-difference checks of the backward rules of the convolution, pooling,
/// normalisation and matrix-product ops (GradientCheck: central differences in Double).
final class ConvGradientTests: XCTestCase {
    var rng = SeededRandom(seed: 7)

    func x(_ shape: [Int], _ lo: Float = -1, _ hi: Float = 1) -> Tensor { rng.tensor(shape, lo, hi) }

    /// Distinct values at least 0.02 apart in random order (no max-pool ties under ±eps).
    func distinct(_ shape: [Int]) -> Tensor {
        let n = shape.reduce(1, *)
        var v = (0..<n).map { Float($0) * 0.02 - Float(n) * 0.01 }
        for i in stride(from: n - 1, to: 0, by: -1) { v.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return Tensor(shape: shape, floats: v)
    }

    // MARK: Conv

    func testConv2DWithBiasAndPads() throws {
        try GradientCheck.check("Conv", attributes: ["pads": .ints([1, 1, 1, 1])],
                                inputs: [x([2, 3, 5, 5]), x([4, 3, 3, 3]), x([4])])
    }

    func testConvStridesDilationsAsymmetricPads() throws {
        try GradientCheck.check("Conv", attributes: ["strides": .ints([2, 1]), "dilations": .ints([1, 2]),
                                                      "pads": .ints([2, 0, 1, 1])],
                                inputs: [x([1, 2, 7, 6]), x([3, 2, 3, 2]), x([3])])
    }

    func testConvGroups() throws {
        try GradientCheck.check("Conv", attributes: ["group": .int(2), "pads": .ints([1, 0, 0, 1]), "strides": .ints([1, 2])],
                                inputs: [x([2, 4, 5, 5]), x([6, 2, 2, 3]), x([6])])
    }

    func testConvDepthwiseWithMultiplier() throws {
        try GradientCheck.check("Conv", attributes: ["group": .int(3), "pads": .ints([1, 1, 1, 1]), "strides": .ints([2, 2]),
                                                      "dilations": .ints([1, 2])],
                                inputs: [x([2, 3, 6, 7]), x([6, 1, 3, 3]), x([6])])
    }

    func testConvPointwise() throws {
        try GradientCheck.check("Conv", inputs: [x([2, 5, 3, 4]), x([3, 5, 1, 1]), x([3])])
    }

    func testConv1x1Strided() throws {
        try GradientCheck.check("Conv", attributes: ["strides": .ints([2, 2])], inputs: [x([1, 4, 5, 5]), x([3, 4, 1, 1])])
    }

    func testConvSameUpper() throws {
        try GradientCheck.check("Conv", attributes: ["auto_pad": .string("SAME_UPPER"), "strides": .ints([2, 2])],
                                inputs: [x([1, 2, 6, 5]), x([2, 2, 3, 2]), x([2])])
    }

    func testConv1D() throws {
        try GradientCheck.check("Conv", attributes: ["pads": .ints([2, 1]), "strides": .ints([2]), "dilations": .ints([2])],
                                inputs: [x([2, 3, 11]), x([4, 3, 3]), x([4])])
    }

    func testConv3D() throws {
        try GradientCheck.check("Conv", attributes: ["pads": .ints([1, 0, 1, 0, 1, 1]), "strides": .ints([1, 2, 1]),
                                                      "group": .int(2)],
                                inputs: [x([1, 4, 3, 4, 4]), x([4, 2, 2, 2, 3]), x([4])])
    }

    func testConvOnlyDataGradientWanted() throws {
        try GradientCheck.check("Conv", attributes: ["pads": .ints([1, 1, 1, 1])],
                                inputs: [x([1, 3, 4, 4]), x([2, 3, 3, 3]), x([2])], check: [0])
    }

    // MARK: ConvTranspose

    func testConvTranspose2D() throws {
        try GradientCheck.check("ConvTranspose", attributes: ["strides": .ints([2, 2]), "pads": .ints([1, 0, 0, 1]),
                                                               "output_padding": .ints([1, 0])],
                                inputs: [x([2, 3, 3, 4]), x([3, 2, 3, 3]), x([2])])
    }

    func testConvTransposeGroupsDilations() throws {
        try GradientCheck.check("ConvTranspose", attributes: ["group": .int(2), "dilations": .ints([2, 1]), "strides": .ints([1, 2])],
                                inputs: [x([1, 4, 3, 3]), x([4, 3, 2, 2]), x([6])])
    }

    func testConvTransposeDepthwise() throws {
        try GradientCheck.check("ConvTranspose", attributes: ["group": .int(3), "strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1])],
                                inputs: [x([1, 3, 3, 3]), x([3, 1, 3, 3]), x([3])])
    }

    func testConvTranspose1DAnd3D() throws {
        try GradientCheck.check("ConvTranspose", attributes: ["strides": .ints([3]), "pads": .ints([1, 0])],
                                inputs: [x([2, 2, 4]), x([2, 3, 4]), x([3])])
        try GradientCheck.check("ConvTranspose", attributes: ["strides": .ints([2, 1, 2])],
                                inputs: [x([1, 2, 2, 2, 2]), x([2, 2, 2, 2, 2]), x([2])])
    }

    // MARK: Pooling

    func testMaxPool() throws {
        try GradientCheck.check("MaxPool", attributes: ["kernel_shape": .ints([3, 3]), "strides": .ints([2, 2]),
                                                         "pads": .ints([1, 1, 1, 1])],
                                inputs: [distinct([2, 2, 6, 6])])
    }

    func testMaxPoolCeilModeDilations() throws {
        try GradientCheck.check("MaxPool", attributes: ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2]),
                                                         "ceil_mode": .int(1), "dilations": .ints([1, 2]),
                                                         "pads": .ints([0, 1, 1, 0])],
                                inputs: [distinct([1, 2, 7, 8])])
    }

    func testMaxPoolWithIndices1DAnd3D() throws {
        try GradientCheck.check("MaxPool", attributes: ["kernel_shape": .ints([2, 2]), "strides": .ints([1, 2])],
                                outputs: 2, inputs: [distinct([1, 2, 4, 5])])
        try GradientCheck.check("MaxPool", attributes: ["kernel_shape": .ints([3]), "strides": .ints([2]), "pads": .ints([1, 1])],
                                inputs: [distinct([2, 2, 9])])
        try GradientCheck.check("MaxPool", attributes: ["kernel_shape": .ints([2, 2, 2]), "strides": .ints([1, 2, 2])],
                                inputs: [distinct([1, 2, 3, 4, 4])])
    }

    func testMaxPoolTieGoesToFirst() throws {
        // Hand-computed: one 2×2 window over four equal values; the gradient goes to the first.
        let node = Node(name: "n", opType: "MaxPool", inputs: ["x"], outputs: ["y"],
                        attributes: ["kernel_shape": .ints([2, 2])])
        let op = try OperatorRegistry.make(node, opset: 17)
        let xt = Tensor(shape: [1, 1, 2, 2], floats: [3, 3, 3, 3])
        let y = try op.forward([xt])
        let g = try op.backward([xt], outputs: y, gradients: [Tensor(shape: [1, 1, 1, 1], floats: [5])],
                                wanted: [true], rules: .standard)
        XCTAssertEqual(g[0]?.floats, [5, 0, 0, 0])
    }

    func testAveragePool() throws {
        for include in [0, 1] {
            try GradientCheck.check("AveragePool", attributes: ["kernel_shape": .ints([3, 2]), "strides": .ints([2, 1]),
                                                                 "pads": .ints([1, 0, 1, 1]), "count_include_pad": .int(include)],
                                    inputs: [x([2, 2, 5, 5])])
            try GradientCheck.check("AveragePool", attributes: ["kernel_shape": .ints([3, 3]), "strides": .ints([2, 2]),
                                                                 "ceil_mode": .int(1), "pads": .ints([1, 1, 0, 0]),
                                                                 "count_include_pad": .int(include)],
                                    inputs: [x([1, 2, 6, 6])])
        }
    }

    func testAveragePool1DAnd3D() throws {
        try GradientCheck.check("AveragePool", attributes: ["kernel_shape": .ints([3]), "strides": .ints([2]), "pads": .ints([1, 1]),
                                                             "count_include_pad": .int(1)],
                                inputs: [x([2, 3, 8])])
        try GradientCheck.check("AveragePool", attributes: ["kernel_shape": .ints([2, 2, 2]), "ceil_mode": .int(1),
                                                             "strides": .ints([2, 2, 2])],
                                inputs: [x([1, 2, 3, 4, 5])])
    }

    func testLpPool() throws {
        try GradientCheck.check("LpPool", attributes: ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 1]), "pads": .ints([1, 0, 0, 1])],
                                inputs: [Tensor(shape: [1, 2, 4, 4], floats: (0..<32).map { _ in rng.awayFromZero(0.2, 1) })])
        try GradientCheck.check("LpPool", attributes: ["kernel_shape": .ints([3, 2]), "p": .int(3)],
                                inputs: [Tensor(shape: [2, 1, 4, 4], floats: (0..<32).map { _ in rng.awayFromZero(0.2, 1) })])
        try GradientCheck.check("LpPool", attributes: ["kernel_shape": .ints([2]), "p": .int(1)],
                                inputs: [Tensor(shape: [2, 2, 5], floats: (0..<20).map { _ in rng.awayFromZero(0.2, 1) })])
    }

    func testGlobalPools() throws {
        try GradientCheck.check("GlobalAveragePool", inputs: [x([2, 3, 4, 5])])
        try GradientCheck.check("GlobalAveragePool", inputs: [x([2, 3, 7])])
        try GradientCheck.check("GlobalMaxPool", inputs: [distinct([2, 3, 4, 5])])
        try GradientCheck.check("GlobalMaxPool", inputs: [distinct([1, 2, 2, 3, 3])])
    }

    // MARK: Normalisation

    func testBatchNormalization() throws {
        try GradientCheck.check("BatchNormalization", attributes: ["epsilon": .float(1e-3)],
                                inputs: [x([2, 3, 4, 4]), x([3]), x([3]), x([3]), x([3], 0.5, 1.5)])
        try GradientCheck.check("BatchNormalization", inputs: [x([4, 5]), x([5]), x([5]), x([5]), x([5], 0.5, 1.5)])
    }

    func testBatchNormalizationOldOpsetsExtraOutputsAndSpatial0() throws {
        // Opset 9, five outputs: mean and variance pass through (their gradients add up).
        try GradientCheck.check("BatchNormalization", opset: 9, outputs: 5,
                                inputs: [x([2, 2, 3, 3]), x([2]), x([2]), x([2]), x([2], 0.5, 1.5)])
        // Opset 7, spatial = 0: statistics per channel and position.
        try GradientCheck.check("BatchNormalization", attributes: ["spatial": .int(0)], opset: 7,
                                inputs: [x([2, 2, 3, 2]), x([2, 3, 2]), x([2, 3, 2]), x([2, 3, 2]), x([2, 3, 2], 0.5, 1.5)])
    }

    func testInstanceNormalization() throws {
        try GradientCheck.check("InstanceNormalization", attributes: ["epsilon": .float(1e-2)],
                                inputs: [x([2, 3, 4, 3]), x([3]), x([3])])
        try GradientCheck.check("InstanceNormalization", inputs: [x([1, 2, 6]), x([2]), x([2])])
    }

    func testLRN() throws {
        try GradientCheck.check("LRN", attributes: ["size": .int(3), "alpha": .float(0.5), "beta": .float(0.75), "bias": .float(1)],
                                inputs: [x([2, 5, 3, 2])])
        try GradientCheck.check("LRN", attributes: ["size": .int(4), "alpha": .float(0.3), "beta": .float(0.6), "bias": .float(2)],
                                inputs: [x([1, 6, 2, 2])])
    }

    // MARK: Matrix products

    func testGemm() throws {
        for (ta, tb) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            let a = ta == 1 ? x([4, 3]) : x([3, 4]), b = tb == 1 ? x([5, 4]) : x([4, 5])
            try GradientCheck.check("Gemm", attributes: ["transA": .int(ta), "transB": .int(tb), "alpha": .float(0.7),
                                                          "beta": .float(1.5)],
                                    inputs: [a, b, x([3, 5])])
        }
    }

    func testGemmBroadcastC() throws {
        for cShape in [[5], [1], [3, 1], [1, 5], []] {
            try GradientCheck.check("Gemm", attributes: ["beta": .float(0.5), "transB": .int(1)],
                                    inputs: [x([3, 4]), x([5, 4]), x(cShape)])
        }
        try GradientCheck.check("Gemm", opset: 13, inputs: [x([2, 3]), x([3, 2]), nil])
    }

    func testMatMul() throws {
        let cases: [([Int], [Int])] = [
            ([3, 4], [4, 5]),
            ([2, 3, 4], [4, 5]),            // stacked A, one B
            ([4], [4, 5]),                  // 1-D A
            ([3, 4], [4]),                  // 1-D B
            ([4], [4]),                     // dot product
            ([2, 1, 3, 4], [3, 4, 2]),      // broadcast batches both ways
            ([3, 4], [2, 4, 3]),            // A broadcast over B's batch
            ([1, 2, 3], [2, 2, 3, 2]),
        ]
        for (a, b) in cases { try GradientCheck.check("MatMul", inputs: [x(a), x(b)]) }
    }
}
