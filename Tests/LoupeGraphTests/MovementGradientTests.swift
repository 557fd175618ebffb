import Foundation
@testable import LoupeGraph
import LoupeTensor
import LoupeTestSupport
import XCTest

/// Backward rules of the shape and data-movement ops: finite-difference checks for every
/// differentiable op and its main attribute variants, hand-computed scatter cases (repeated
/// Gather indices, reflect padding), the strided/axis adjoints against per-element references,
/// and the ops without a gradient.
final class MovementGradientTests: XCTestCase {
    var rng = SeededRandom(seed: 7)

    func ints(_ v: [Int64]) -> Tensor { .vector(v) }
    func floats(_ v: [Float]) -> Tensor { .vector(v) }
    func x(_ shape: [Int]) -> Tensor { rng.tensor(shape) }

    /// Runs backward of `op` on `inputs` with output gradients `g` (all inputs wanted).
    func backward(_ op: String, opset: Int = 17, _ inputs: [Tensor?], _ attributes: [String: Attribute] = [:],
                  outputs: Int = 1, gradients: [Tensor?]) throws -> [Tensor?] {
        let node = Node(name: "n", opType: op, inputs: inputs.indices.map { inputs[$0] == nil ? "" : "x\($0)" },
                        outputs: (0..<outputs).map { "y\($0)" }, attributes: attributes)
        let o = try OperatorRegistry.make(node, opset: opset)
        let outs = try o.forward(inputs)
        return try o.backward(inputs, outputs: outs, gradients: gradients, wanted: inputs.map { $0 != nil },
                              rules: .standard)
    }

    // MARK: Reshape-like

    func testConcat() throws {
        try GradientCheck.check("Concat", attributes: ["axis": .int(1)], inputs: [x([2, 2, 3]), x([2, 1, 3]), x([2, 3, 3])])
        try GradientCheck.check("Concat", attributes: ["axis": .int(-1)], opset: 13, inputs: [x([2, 3]), x([2, 4])])
        try GradientCheck.check("Concat", attributes: ["axis": .int(0)], inputs: [x([3, 2])])
    }

    func testFlattenReshapeSqueezeUnsqueeze() throws {
        try GradientCheck.check("Flatten", attributes: ["axis": .int(2)], inputs: [x([2, 3, 2, 2])])
        try GradientCheck.check("Reshape", inputs: [x([2, 3, 4]), ints([4, -1])], check: [0])
        try GradientCheck.check("Reshape", attributes: ["shape": .ints([0, 3, -1])], opset: 4, inputs: [x([2, 6])])
        try GradientCheck.check("Squeeze", opset: 13, inputs: [x([2, 1, 3]), ints([1])], check: [0])
        try GradientCheck.check("Squeeze", attributes: ["axes": .ints([0])], opset: 11, inputs: [x([1, 4])])
        try GradientCheck.check("Unsqueeze", opset: 13, inputs: [x([2, 3]), ints([0, -1])], check: [0])
        try GradientCheck.check("Unsqueeze", attributes: ["axes": .ints([1])], opset: 11, inputs: [x([2, 3])])
    }

    func testTranspose() throws {
        try GradientCheck.check("Transpose", attributes: ["perm": .ints([2, 0, 1])], inputs: [x([2, 3, 4])])
        try GradientCheck.check("Transpose", inputs: [x([2, 3, 4])])
        try GradientCheck.check("Transpose", attributes: ["perm": .ints([0, 2, 1, 3])], inputs: [x([2, 3, 1, 2])])
        // Only a size-1 axis moves: the forward is a reshape.
        try GradientCheck.check("Transpose", attributes: ["perm": .ints([1, 0, 2])], inputs: [x([1, 3, 2])])
    }

    // MARK: Gathers

    func testGather() throws {
        try GradientCheck.check("Gather", attributes: ["axis": .int(1)],
                                inputs: [x([2, 4, 3]), Tensor(shape: [2, 3], ints: [0, 3, 0, -1, 3, 3])], check: [0])
        try GradientCheck.check("Gather", inputs: [x([5]), ints([4, 4, 1])], check: [0])
    }

    func testGatherRepeatedIndicesByHand() throws {
        let g = try backward("Gather", [floats([10, 20, 30]), ints([0, 2, 0, -3])], gradients: [floats([1, 2, 3, 4])])
        XCTAssertEqual(g[0]?.floats, [8, 0, 2])
        XCTAssertNil(g[1])
        let h = try backward("Gather", [Tensor(shape: [2, 2], floats: [1, 2, 3, 4]), ints([1, 1])], ["axis": .int(1)],
                             gradients: [Tensor(shape: [2, 2], floats: [1, 2, 3, 4])])
        XCTAssertEqual(h[0]?.floats, [0, 3, 0, 7])
    }

    func testGatherElements() throws {
        try GradientCheck.check("GatherElements", attributes: ["axis": .int(1)],
                                inputs: [x([2, 3]), Tensor(shape: [2, 4], ints: [0, 2, 2, -1, 1, 1, 0, 1])], check: [0])
        try GradientCheck.check("GatherElements", inputs: [x([3, 2]), Tensor(shape: [2, 2], ints: [2, 0, 2, 2])], check: [0])
        let g = try backward("GatherElements", [floats([1, 2, 3]), ints([1, 1, 2])], gradients: [floats([1, 10, 100])])
        XCTAssertEqual(g[0]?.floats, [0, 11, 100])
    }

    // MARK: Slice, Split

    func testSlice() throws {
        let data = x([4, 5, 3])
        // Steps 2 and -1, negative start.
        try GradientCheck.check("Slice", inputs: [data, ints([0, -1]), ints([4, -100]), ints([0, 1]), ints([2, -1])], check: [0])
        // Step -2 from the end on the last axis, partial on the first.
        try GradientCheck.check("Slice", inputs: [data, ints([1, Int64.max]), ints([3, Int64.min]), ints([0, 2]), ints([1, -2])],
                                check: [0])
        // Opset 9: attributes, steps 1.
        try GradientCheck.check("Slice", attributes: ["starts": .ints([1]), "ends": .ints([4]), "axes": .ints([1])], opset: 9,
                                inputs: [data])
        // Identity slice.
        try GradientCheck.check("Slice", inputs: [x([2, 3]), ints([0]), ints([3]), ints([1])], check: [0])
    }

    func testSliceByHand() throws {
        // x[4::-2] of 6 elements reads 4, 2, 0.
        let g = try backward("Slice", [floats([0, 1, 2, 3, 4, 5]), ints([4]), ints([-10]), ints([0]), ints([-2])],
                             gradients: [floats([1, 2, 3])])
        XCTAssertEqual(g[0]?.floats, [3, 0, 2, 0, 1, 0])
    }

    func testSplit() throws {
        try GradientCheck.check("Split", attributes: ["axis": .int(1), "split": .ints([1, 3, 2])], opset: 11, outputs: 3,
                                inputs: [x([2, 6, 2])])
        try GradientCheck.check("Split", opset: 13, outputs: 2, inputs: [x([5, 2]), ints([2, 3])], check: [0])
        try GradientCheck.check("Split", attributes: ["axis": .int(-1), "num_outputs": .int(3)], opset: 18, outputs: 3,
                                inputs: [x([2, 7])])
    }

    func testSplitWithMissingOutputGradient() throws {
        let g = try backward("Split", opset: 13, [floats([1, 2, 3, 4]), ints([1, 3])], outputs: 2,
                             gradients: [nil, floats([5, 6, 7])])
        XCTAssertEqual(g[0]?.floats, [0, 5, 6, 7])
        XCTAssertNil(g[1])
    }

    // MARK: Pad

    func testPadModes() throws {
        let data = x([2, 3, 4])
        for mode in ["constant", "reflect", "edge", "wrap"] {
            try GradientCheck.check("Pad", attributes: ["mode": .string(mode)], opset: 19,
                                    inputs: [data, ints([0, 2, 3, 1, 2, 1])], check: [0])
            // Negative pads crop.
            try GradientCheck.check("Pad", attributes: ["mode": .string(mode)], opset: 19,
                                    inputs: [data, ints([1, -1, 2, 0, 1, -2])], check: [0])
        }
        // Wrap and reflect further than the axis length.
        try GradientCheck.check("Pad", attributes: ["mode": .string("wrap")], opset: 19, inputs: [x([2, 2]), ints([0, 5, 0, 3])],
                                check: [0])
        try GradientCheck.check("Pad", attributes: ["mode": .string("reflect")], opset: 19, inputs: [x([2, 3]), ints([0, 5, 0, 4])],
                                check: [0])
        // Opset 2: pads attribute; opset 18: axes input.
        try GradientCheck.check("Pad", attributes: ["pads": .ints([1, 0, 0, 2]), "mode": .string("edge")], opset: 2,
                                inputs: [x([2, 3])])
        try GradientCheck.check("Pad", attributes: ["mode": .string("reflect")], opset: 18,
                                inputs: [data, ints([2, 1]), nil, ints([-1])], check: [0])
    }

    func testPadConstantValueGradient() throws {
        try GradientCheck.check("Pad", opset: 13, inputs: [x([2, 3]), ints([1, -1, 0, 2]), Tensor.scalar(0.5)], check: [0, 2])
    }

    func testPadReflectByHand() throws {
        // [a, b, c] padded 2 before, 1 after, reflect: [c, b, a, b, c, b].
        let g = try backward("Pad", opset: 13, [floats([1, 2, 3]), ints([2, 1])], ["mode": .string("reflect")],
                             gradients: [floats([1, 2, 3, 4, 5, 6])])
        XCTAssertEqual(g[0]?.floats, [3, 12, 6])
        // Edge: [a, a, a, b, c, c].
        let e = try backward("Pad", opset: 13, [floats([1, 2, 3]), ints([2, 1])], ["mode": .string("edge")],
                             gradients: [floats([1, 2, 3, 4, 5, 6])])
        XCTAssertEqual(e[0]?.floats, [6, 4, 11])
    }

    // MARK: Expand, Tile

    func testExpand() throws {
        try GradientCheck.check("Expand", inputs: [x([3, 1]), ints([2, 3, 4])], check: [0])
        try GradientCheck.check("Expand", inputs: [x([1, 4]), ints([3, 1])], check: [0])
        try GradientCheck.check("Expand", inputs: [x([2, 3]), ints([2, 3])], check: [0])
    }

    func testTile() throws {
        try GradientCheck.check("Tile", inputs: [x([2, 3]), ints([3, 2])], check: [0])
        try GradientCheck.check("Tile", inputs: [x([2, 1, 3]), ints([1, 4, 2])], check: [0])
        try GradientCheck.check("Tile", opset: 1, inputs: [x([2, 3]), ints([3]), ints([1])], check: [0])
        let g = try backward("Tile", [floats([1, 2]), ints([3])], gradients: [floats([1, 2, 3, 4, 5, 6])])
        XCTAssertEqual(g[0]?.floats, [9, 12])
    }

    // MARK: DepthToSpace, SpaceToDepth

    func testDepthToSpaceAndSpaceToDepth() throws {
        try GradientCheck.check("DepthToSpace", attributes: ["blocksize": .int(2)], inputs: [x([1, 8, 2, 3])])
        try GradientCheck.check("DepthToSpace", attributes: ["blocksize": .int(2), "mode": .string("CRD")], opset: 13,
                                inputs: [x([2, 8, 2, 2])])
        try GradientCheck.check("SpaceToDepth", attributes: ["blocksize": .int(2)], inputs: [x([2, 2, 4, 2])])
    }

    // MARK: Resize, Upsample

    func resizeCheck(_ attributes: [String: Attribute], opset: Int = 19, shape: [Int] = [1, 2, 3, 4],
                     scales: [Float]? = [1, 1, 1.7, 2.5], sizes: [Int64]? = nil, roi: [Float]? = nil,
                     file: StaticString = #filePath, line: UInt = #line) throws {
        var inputs: [Tensor?] = [x(shape), roi.map(floats), scales.map(floats), sizes.map(ints)]
        while inputs.last! == nil { inputs.removeLast() }
        try GradientCheck.check("Resize", attributes: attributes, opset: opset, inputs: inputs, check: [0], file: file, line: line)
    }

    func testResizeLinearEveryCoordinateMode() throws {
        for mode in ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
                     "tf_half_pixel_for_nn"] {
            let a: [String: Attribute] = ["mode": .string("linear"), "coordinate_transformation_mode": .string(mode)]
            try resizeCheck(a)
            // Downsampling, and an output of length 1 on one axis.
            try resizeCheck(a, shape: [1, 1, 5, 6], scales: [1, 1, 0.6, 0.2])
        }
        let crop: [String: Attribute] = ["mode": .string("linear"), "coordinate_transformation_mode": .string("tf_crop_and_resize"),
                                         "extrapolation_value": .float(0.25)]
        try resizeCheck(crop, roi: [0, 0, -0.2, 0.1, 1, 1, 0.9, 1.3])
        try resizeCheck(crop, scales: nil, sizes: [1, 2, 4, 3], roi: [0, 0, 0.2, 0.1, 1, 1, 0.8, 0.9])
    }

    func testResizeNearest() throws {
        for nearest in ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"] {
            for mode in ["half_pixel", "asymmetric", "align_corners", "tf_half_pixel_for_nn"] {
                let a: [String: Attribute] = ["mode": .string("nearest"), "nearest_mode": .string(nearest),
                                              "coordinate_transformation_mode": .string(mode)]
                try resizeCheck(a, scales: [1, 1, 2, 3])
                try resizeCheck(a, shape: [1, 1, 5, 6], scales: [1, 1, 0.6, 0.5])
            }
        }
        // Nearest with a crop: outside positions carry the extrapolation value.
        try resizeCheck(["coordinate_transformation_mode": .string("tf_crop_and_resize")],
                        scales: nil, sizes: [1, 2, 5, 5], roi: [0, 0, -0.3, 0.2, 1, 1, 1.2, 0.7])
        // Identity resize.
        try resizeCheck([:], scales: [1, 1, 1, 1])
    }

    func testResizeNearestByHand() throws {
        // 2 → 4, asymmetric floor: each input copied twice.
        let g = try backward("Resize", opset: 13,
                             [Tensor(shape: [1, 2], floats: [1, 2]), nil, floats([1, 2])],
                             ["coordinate_transformation_mode": .string("asymmetric"), "nearest_mode": .string("floor")],
                             gradients: [Tensor(shape: [1, 4], floats: [1, 2, 3, 4])])
        XCTAssertEqual(g[0]?.floats, [3, 7])
        XCTAssertNil(g[2])
    }

    func testResizeLinearByHand() throws {
        // 2 → 4 linear, half_pixel: coordinates -0.25, 0.25, 0.75, 1.25 (clamped at the ends):
        // weights rows [1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1].
        let g = try backward("Resize", opset: 13, [Tensor(shape: [1, 2], floats: [1, 2]), nil, floats([1, 2])],
                             ["mode": .string("linear")], gradients: [Tensor(shape: [1, 4], floats: [1, 2, 3, 4])])
        let want: [Float] = [1 + 0.75 * 2 + 0.25 * 3, 0.25 * 2 + 0.75 * 3 + 4]
        for (a, b) in zip(g[0]!.floats, want) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }

    func testResizeCubicAntialiasAxesAndOpset10() throws {
        try resizeCheck(["mode": .string("cubic")])
        try resizeCheck(["mode": .string("cubic"), "exclude_outside": .int(1), "cubic_coeff_a": .float(-0.5)],
                        shape: [1, 1, 4, 5], scales: [1, 1, 0.75, 1.6])
        try resizeCheck(["mode": .string("linear"), "antialias": .int(1)], shape: [1, 1, 6, 7], scales: [1, 1, 0.5, 0.4])
        try resizeCheck(["mode": .string("cubic"), "antialias": .int(1)], shape: [1, 1, 6, 7], scales: [1, 1, 0.5, 0.6])
        // Opset 18 axes with sizes, keep_aspect_ratio_policy.
        try GradientCheck.check("Resize", attributes: ["mode": .string("linear"), "axes": .ints([3, 2]),
                                                       "keep_aspect_ratio_policy": .string("not_larger")],
                                opset: 18, inputs: [x([1, 2, 3, 4]), nil, nil, ints([7, 5])], check: [0])
        // Opset 10: inputs X, scales; asymmetric.
        try GradientCheck.check("Resize", attributes: ["mode": .string("linear")], opset: 10,
                                inputs: [x([1, 1, 3, 3]), floats([1, 1, 2, 1.5])], check: [0])
        try GradientCheck.check("Resize", opset: 10, inputs: [x([1, 1, 3, 3]), floats([1, 1, 2, 0.7])], check: [0])
    }

    func testUpsample() throws {
        try GradientCheck.check("Upsample", opset: 9, inputs: [x([1, 2, 2, 3]), floats([1, 1, 2, 3])], check: [0])
        try GradientCheck.check("Upsample", attributes: ["mode": .string("linear")], opset: 9,
                                inputs: [x([1, 2, 2, 3]), floats([1, 1, 2.5, 2])], check: [0])
        try GradientCheck.check("Upsample", attributes: ["mode": .string("linear"), "scales": .floats([1, 1, 2, 2])], opset: 7,
                                inputs: [x([1, 1, 3, 2])])
        try GradientCheck.check("Upsample", attributes: ["mode": .string("bilinear"), "height_scale": .float(2),
                                                         "width_scale": .float(3)], opset: 1, inputs: [x([1, 1, 2, 2])])
    }

    // MARK: Range and ops without a gradient

    func testRange() throws {
        try GradientCheck.check("Range", opset: 11, inputs: [Tensor.scalar(0.5), Tensor.scalar(3.7), Tensor.scalar(0.6)])
        try GradientCheck.check("Range", opset: 11, inputs: [Tensor.scalar(2), Tensor.scalar(-1.3), Tensor.scalar(-0.7)])
        let g = try backward("Range", opset: 11, [Tensor.scalar(1), Tensor.scalar(4), Tensor.scalar(1)],
                             gradients: [floats([1, 2, 3])])
        XCTAssertEqual(g[0]?.floats, [6])
        XCTAssertEqual(g[1]?.floats, [0])
        XCTAssertEqual(g[2]?.floats, [8])   // 0·1 + 1·2 + 2·3
        let i = try backward("Range", opset: 11, [Tensor.scalar(int: 0), Tensor.scalar(int: 3), Tensor.scalar(int: 1)],
                             gradients: [floats([1, 1, 1])])
        XCTAssertTrue(i.allSatisfy { $0 == nil })
    }

    func testOpsWithoutGradient() throws {
        let data = x([2, 3])
        XCTAssertEqual(try backward("Shape", [data], gradients: [nil]).map { $0 == nil }, [true])
        XCTAssertEqual(try backward("Size", [data], gradients: [nil]).map { $0 == nil }, [true])
        XCTAssertEqual(try backward("ConstantOfShape", [ints([2, 2])], gradients: [x([2, 2])]).map { $0 == nil }, [true])
        XCTAssertTrue(try backward("Constant", [], ["value": .tensor(data)], gradients: [x([2, 3])]).isEmpty)
    }

    // MARK: Kernels against references

    func testStridedAdjointMatchesNaive() throws {
        let cases: [([Int], [Int], [Int], Int)] = [
            ([3, 4], [2, 3], [1, 2], 0),            // transpose-like
            ([2, 5], [2, 3], [5, 1], 2),            // slice
            ([4], [3, 4], [0, 1], 0),               // broadcast (stride 0 inner and outer)
            ([3], [3, 5], [1, 0], 0),               // repeat along the inner axis
            ([6], [3], [-2], 5),                    // negative step
            ([2, 3], [1, 1], [3, 1], 4),            // single element
        ]
        for (shape, view, strides, offset) in cases {
            let g = x(view)
            let fast = try Movement.stridedAdjoint(g, into: shape, strides: strides, offset: offset)
            let naive = Movement.stridedAdjointNaive(g, into: shape, strides: strides, offset: offset)
            XCTAssertEqual(fast.shape, shape)
            for (a, b) in zip(fast.floats, naive.floats) { XCTAssertEqual(a, b, accuracy: 1e-5, "\(shape) \(view) \(strides)") }
        }
    }

    func testScatterAxesIsTheAdjointOfGatherAxes() throws {
        // <gather(x), g> == <x, scatter(g)> for random x, g and maps with repeats and fills.
        let shape = [3, 4]
        let maps = [[2, -1, 0, 0, 1], [3, 3, -1, 1, 0, 2, 2]]
        let v = x(shape)
        let g = x(maps.map(\.count))
        let y = try Movement.gatherAxes(v, maps: maps, fill: 0)
        let s = try Movement.scatterAxes(g, maps: maps, into: shape)
        let lhs = zip(y.floats, g.floats).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        let rhs = zip(v.floats, s.floats).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        XCTAssertEqual(lhs, rhs, accuracy: 1e-5)
    }
}
