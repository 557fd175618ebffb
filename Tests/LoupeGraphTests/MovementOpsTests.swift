import Foundation
import LoupeGraph
import LoupeTensor
import XCTest

/// Hand-computed checks of the shape and data-movement ops (Reshape, Slice, Pad, Resize, ...),
/// plus the block-copy kernels compared with per-element references written here.
final class MovementOpsTests: XCTestCase {
    /// Builds `op` through the registry at `opset`, checks that `infer` (with every input known
    /// as a constant) agrees with what `forward` produces, and returns the outputs.
    func run(_ op: String, opset: Int = 13, _ inputs: [Tensor?], _ attributes: [String: Attribute] = [:],
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

    func assertClose(_ got: Tensor, _ want: [Float], shape: [Int], tol: Float = 1e-5,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.shape, shape, file: file, line: line)
        XCTAssertEqual(got.floats.count, want.count, file: file, line: line)
        for (g, w) in zip(got.floats, want) { XCTAssertEqual(g, w, accuracy: tol, file: file, line: line) }
    }

    func iota(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map(Float.init))
    }

    func ints(_ v: [Int64]) -> Tensor { .vector(v) }

    // MARK: Reshape, Flatten, Squeeze, Unsqueeze, Shape

    func testReshapeZeroCopiesAndMinusOneInfers() throws {
        let x = iota([2, 3, 4])
        let a = try run("Reshape", [x, ints([0, -1])])[0]
        XCTAssertEqual(a.shape, [2, 12])
        XCTAssertEqual(a.floats, x.floats)
        let b = try run("Reshape", [x, ints([-1, 0, 2])])[0]
        XCTAssertEqual(b.shape, [4, 3, 2])
        // allowzero=1: 0 is a real empty dimension.
        let e = try Tensor(zeros: [0, 3])
        let c = try run("Reshape", opset: 14, [e, ints([3, 0])], ["allowzero": .int(1)])[0]
        XCTAssertEqual(c.shape, [3, 0])
        // Opset 1–4: the shape is an attribute.
        let d = try run("Reshape", opset: 4, [x], ["shape": .ints([0, 4, -1])])[0]
        XCTAssertEqual(d.shape, [2, 4, 3])
        XCTAssertThrowsError(try run("Reshape", [x, ints([-1, -1])]))
        XCTAssertThrowsError(try run("Reshape", [x, ints([5, -1])]))
    }

    func testFlattenSqueezeUnsqueezeShape() throws {
        let x = iota([2, 1, 3, 1])
        XCTAssertEqual(try run("Flatten", [x], ["axis": .int(-1)])[0].shape, [6, 1])
        XCTAssertEqual(try run("Flatten", [x], ["axis": .int(0)])[0].shape, [1, 6])
        XCTAssertEqual(try run("Squeeze", [x])[0].shape, [2, 3])
        XCTAssertEqual(try run("Squeeze", [x, ints([-1])])[0].shape, [2, 1, 3])
        XCTAssertEqual(try run("Squeeze", opset: 11, [x], ["axes": .ints([1])])[0].shape, [2, 3, 1])
        XCTAssertThrowsError(try run("Squeeze", [x, ints([0])]))
        XCTAssertEqual(try run("Unsqueeze", [iota([3, 4]), ints([-1, 0])])[0].shape, [1, 3, 4, 1])
        XCTAssertEqual(try run("Unsqueeze", opset: 11, [iota([3])], ["axes": .ints([1])])[0].shape, [3, 1])
        XCTAssertEqual(try run("Shape", [x])[0].ints, [2, 1, 3, 1])
        XCTAssertEqual(try run("Shape", opset: 15, [x], ["start": .int(1), "end": .int(-1)])[0].ints, [1, 3])
        XCTAssertEqual(try run("Size", [x])[0].ints, [6])
    }

    // MARK: Slice

    func testSliceNegativeStep() throws {
        // 0…9, from 8 down to (excluded) 1 by -3: 8, 5, 2.
        let y = try run("Slice", [iota([10]), ints([8]), ints([1]), ints([0]), ints([-3])])[0]
        assertClose(y, [8, 5, 2], shape: [3])
        // 3×4 iota; rows from -1 (= 2) to INT64_MIN (clamped: through row 0) by -1,
        // columns 3 down to (excluded) 0 by -2: columns 3, 1.
        let x = iota([3, 4])
        let z = try run("Slice", [x, ints([-1, 3]), ints([Int64.min, 0]), ints([0, 1]), ints([-1, -2])])[0]
        assertClose(z, [11, 9, 7, 5, 3, 1], shape: [3, 2])
        // Huge ends clamp; opset 1 attributes.
        let w = try run("Slice", opset: 9, [x], ["starts": .ints([1]), "ends": .ints([Int(Int64.max)]), "axes": .ints([1])])[0]
        assertClose(w, [1, 2, 3, 5, 6, 7, 9, 10, 11], shape: [3, 3])
    }

    // MARK: Pad

    func testPadModes() throws {
        let x = Tensor(shape: [3], floats: [1, 2, 3])
        assertClose(try run("Pad", [x, ints([2, 2])], ["mode": .string("reflect")])[0], [3, 2, 1, 2, 3, 2, 1], shape: [7])
        assertClose(try run("Pad", [x, ints([2, 1])], ["mode": .string("edge")])[0], [1, 1, 1, 2, 3, 3], shape: [6])
        assertClose(try run("Pad", opset: 19, [x, ints([2, 1])], ["mode": .string("wrap")])[0], [2, 3, 1, 2, 3, 1], shape: [6])
        assertClose(try run("Pad", [x, ints([1, -1]), .scalar(9)])[0], [9, 1, 2], shape: [3])
        // The ONNX spec's reflect example: 3×2 padded by 2 columns at the start.
        let m = Tensor(shape: [3, 2], floats: [1, 1.2, 2.3, 3.4, 4.5, 5.7])
        let r = try run("Pad", [m, ints([0, 2, 0, 0])], ["mode": .string("reflect")])[0]
        assertClose(r, [1, 1.2, 1, 1.2, 2.3, 3.4, 2.3, 3.4, 4.5, 5.7, 4.5, 5.7], shape: [3, 4])
        // Opset 2 attributes, integer data, constant 7; opset 18 axes.
        let i = Tensor(shape: [2, 2], ints: [1, 2, 3, 4], dtype: .int32)
        let p = try run("Pad", opset: 2, [i], ["pads": .ints([1, 0, 0, 1]), "value": .float(7)])[0]
        XCTAssertEqual(p.shape, [3, 3])
        XCTAssertEqual(p.ints, [7, 7, 7, 1, 2, 7, 3, 4, 7])
        XCTAssertEqual(p.dtype, .int32)
        let q = try run("Pad", opset: 18, [i, ints([1, 0]), nil, ints([-1])])[0]
        XCTAssertEqual(q.ints, [0, 1, 2, 0, 3, 4])
    }

    // MARK: Resize

    func testResizeNearestHalfPixel2x() throws {
        // half_pixel: x_in = (x + 0.5)/2 - 0.5 = -0.25, 0.25, 0.75, 1.25 → rounded 0, 0, 1, 1.
        let x = Tensor(shape: [1, 1, 2, 2], floats: [1, 2, 3, 4])
        let scales = Tensor.vector([Float(1), 1, 2, 2])
        let y = try run("Resize", [x, nil, scales], ["mode": .string("nearest")])[0]
        assertClose(y, [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4], shape: [1, 1, 4, 4])
    }

    func testResizeLinearAlignCorners() throws {
        // align_corners to 3×3: x_in = x·(2-1)/(3-1) = 0, 0.5, 1.
        let x = Tensor(shape: [1, 1, 2, 2], floats: [1, 2, 3, 4])
        let y = try run("Resize", [x, nil, nil, ints([1, 1, 3, 3])],
                        ["mode": .string("linear"), "coordinate_transformation_mode": .string("align_corners")])[0]
        assertClose(y, [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4], shape: [1, 1, 3, 3])
        // Linear half_pixel 2× along one axis of [0, 4]: x_in = -0.25, 0.25, 0.75, 1.25 → clamped
        // to the edges outside [0, 1]: 0, 1, 3, 4.
        let z = try run("Resize", [Tensor(shape: [1, 2], floats: [0, 4]), nil, .vector([Float(1), 2])],
                        ["mode": .string("linear")])[0]
        assertClose(z, [0, 1, 3, 4], shape: [1, 4])
    }

    func testUpsampleNearestAndOpset7Attribute() throws {
        let x = Tensor(shape: [1, 1, 1, 2], floats: [5, 6])
        let y = try run("Upsample", opset: 9, [x, .vector([Float(1), 1, 2, 3])])[0]
        assertClose(y, [5, 5, 5, 6, 6, 6, 5, 5, 5, 6, 6, 6], shape: [1, 1, 2, 6])
        let z = try run("Upsample", opset: 7, [x], ["scales": .floats([1, 1, 1, 2]), "mode": .string("linear")])[0]
        // asymmetric: x_in = 0, 0.5, 1, 1.5 (clamped to 1): 5, 5.5, 6, 6.
        assertClose(z, [5, 5.5, 6, 6], shape: [1, 1, 1, 4])
    }

    // MARK: Concat, Transpose, Gather, Split, Tile, Expand, DepthToSpace

    func testConcatAnyDtypeAndAxis() throws {
        let a = Tensor(shape: [2, 1], ints: [1, 2], dtype: .int32)
        let b = Tensor(shape: [2, 2], ints: [3, 4, 5, 6], dtype: .int32)
        let c = try run("Concat", [a, b], ["axis": .int(-1)])[0]
        XCTAssertEqual(c.ints, [1, 3, 4, 2, 5, 6])
        XCTAssertEqual(c.dtype, .int32)
        let f = try run("Concat", [iota([1, 2]), iota([2, 2])], ["axis": .int(0)])[0]
        assertClose(f, [0, 1, 0, 1, 2, 3], shape: [3, 2])
        XCTAssertThrowsError(try run("Concat", [iota([1, 2]), iota([2, 3])], ["axis": .int(0)]))
    }

    func testTransposeMatchesPerElementReference() throws {
        let shape = [2, 3, 4, 5]
        let x = iota(shape)
        for perm in [[0, 2, 3, 1], [3, 2, 1, 0], [1, 0, 2, 3], [0, 1, 3, 2], [0, 2, 1, 3]] {
            let y = try run("Transpose", [x], ["perm": .ints(perm)])[0]
            let outShape = perm.map { shape[$0] }
            let inStrides = contiguousStrides(shape), outStrides = contiguousStrides(outShape)
            var want = [Float](repeating: 0, count: x.count)
            for i in 0..<x.count {
                var p = 0
                for d in 0..<4 { p += (i / outStrides[d]) % outShape[d] * inStrides[perm[d]] }
                want[i] = x.floats[p]
            }
            XCTAssertEqual(y.shape, outShape)
            XCTAssertEqual(y.floats, want, "perm \(perm)")
        }
        let t = try run("Transpose", [Tensor(shape: [2, 3], ints: [1, 2, 3, 4, 5, 6], dtype: .bool)])[0]
        XCTAssertEqual(t.ints, [1, 4, 2, 5, 3, 6])
        XCTAssertEqual(t.dtype, .bool)
    }

    func testGatherSplitTileExpand() throws {
        let x = iota([3, 2])
        let g = try run("Gather", [x, Tensor(shape: [2, 1], ints: [-1, 0])])[0]
        assertClose(g, [4, 5, 0, 1], shape: [2, 1, 2])
        let g1 = try run("Gather", [x, .scalar(int: 1)], ["axis": .int(1)])[0]
        assertClose(g1, [1, 3, 5], shape: [3])
        XCTAssertThrowsError(try run("Gather", [x, .vector([Int64(3)])]))
        let e = try run("GatherElements", [x, Tensor(shape: [2, 2], ints: [2, -3, 1, 0])])[0]
        assertClose(e, [4, 1, 2, 1], shape: [2, 2])

        let parts = try run("Split", opset: 18, [iota([7])], ["num_outputs": .int(3)], outputs: 3)
        XCTAssertEqual(parts.map(\.shape), [[3], [3], [1]])
        assertClose(parts[2], [6], shape: [1])
        let v = try run("Split", opset: 11, [iota([2, 3])], ["axis": .int(1), "split": .ints([1, 2])], outputs: 2)
        assertClose(v[1], [1, 2, 4, 5], shape: [2, 2])

        let t = try run("Tile", [Tensor(shape: [1, 2], floats: [1, 2]), ints([2, 2])])[0]
        assertClose(t, [1, 2, 1, 2, 1, 2, 1, 2], shape: [2, 4])
        let ex = try run("Expand", [Tensor(shape: [2, 1], floats: [1, 2]), ints([2, 1, 3])])[0]
        assertClose(ex, [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2], shape: [2, 2, 3])
        let r = try run("Range", [.scalar(int: 10), .scalar(int: 3), .scalar(int: -3)])[0]
        XCTAssertEqual(r.ints, [10, 7, 4])
        let c = try run("ConstantOfShape", [ints([2, 1])], ["value": .tensor(Tensor(shape: [1], ints: [5], dtype: .int32))])[0]
        XCTAssertEqual(c.ints, [5, 5])
        XCTAssertEqual(c.dtype, .int32)
    }

    func testDepthToSpaceAndBack() throws {
        // x[ch, h, w] = 6·ch + 3·h + w, 8 channels, blocksize 2 (DCR): out[c, 2h+i, 2w+j] =
        // x[(2i + j)·2 + c, h, w]. Row 0 (h=0, i=0) of channel 0 alternates ch 0 and ch 2.
        let x = iota([1, 8, 2, 3])
        let y = try run("DepthToSpace", [x], ["blocksize": .int(2)])[0]
        XCTAssertEqual(y.shape, [1, 2, 4, 6])
        XCTAssertEqual(Array(y.floats[0..<12]), [0, 12, 1, 13, 2, 14, 24, 36, 25, 37, 26, 38])
        // CRD: channel c·4 + 2i + j; row 0 of channel 0 alternates ch 0 and ch 1.
        let z = try run("DepthToSpace", opset: 13, [x], ["blocksize": .int(2), "mode": .string("CRD")])[0]
        XCTAssertEqual(Array(z.floats[0..<6]), [0, 6, 1, 7, 2, 8])
        // SpaceToDepth inverts DCR DepthToSpace.
        let back = try run("SpaceToDepth", [y], ["blocksize": .int(2)])[0]
        XCTAssertEqual(back.shape, x.shape)
        XCTAssertEqual(back.floats, x.floats)
    }

    // MARK: Kernels against their per-element references

    func testStridedCopyMatchesNaive() throws {
        var rng = SystemRandomNumberGenerator()
        let x = iota([3, 4, 5])
        let xi = Tensor(shape: [3, 4, 5], ints: (0..<60).map(Int64.init), dtype: .int16)
        // Permutations, negative steps (reversal from the far end), broadcast (stride 0).
        let views: [([Int], [Int], Int)] = [
            ([5, 4, 3], [1, 5, 20], 0), ([3, 2, 5], [20, 10, 1], 0), ([3, 4, 5], [-20, 5, -1], 44),
            ([2, 3, 4, 5], [0, 20, 5, 1], 0), ([4, 3, 1], [5, 20, 7], 2), ([60], [1], 0), ([], [], 17),
        ]
        for (shape, strides, offset) in views {
            for t in [x, xi] {
                let fast = try Movement.strided(t, shape: shape, strides: strides, offset: offset)
                let naive = Movement.copyStridedNaive(t, shape: shape, strides: strides, offset: offset)
                XCTAssertEqual(fast.shape, naive.shape)
                XCTAssertEqual(fast.floats, naive.floats, "\(shape) \(strides)")
                XCTAssertEqual(fast.ints, naive.ints, "\(shape) \(strides)")
                XCTAssertEqual(fast.dtype, t.dtype)
            }
        }
        for _ in 0..<20 {
            let maps = [3, 4, 5].map { n in (0..<Int.random(in: 0...7, using: &rng)).map { _ in Int.random(in: -1..<n, using: &rng) } }
            for t in [x, xi] {
                let fast = try Movement.gatherAxes(t, maps: maps, fill: 9)
                let naive = Movement.gatherAxesNaive(t, maps: maps, fill: 9)
                XCTAssertEqual(fast.shape, naive.shape)
                XCTAssertEqual(fast.floats, naive.floats, "\(maps)")
                XCTAssertEqual(fast.ints, naive.ints, "\(maps)")
            }
        }
    }
}
