import Foundation
import LoupeFormats
@testable import LoupeGraph
import LoupeTensor
import XCTest

/// Receptive fields: hand-computed values for torchvision's ResNet-18 and VGG-16, and an
/// empirical check on real and hand-built graphs: the input pixels with a non-zero gradient of
/// one unit, in a linearised copy with positive weights, span exactly the computed field
/// (clipped to the input).
final class ReceptiveFieldTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func analysis(_ relative: String) throws -> ReceptiveFieldAnalysis {
        let g = try ModelFile.load(path: Self.root.appendingPathComponent(relative).path)
        return try ReceptiveFieldAnalysis(graph: g, inputTypes: try ModelFile.inputTypes(g))
    }

    func assertField(_ a: ReceptiveFieldAnalysis, _ node: String, size: Int, stride: Double, offset: Double,
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let n = try XCTUnwrap(a.graph.nodes.first { $0.name == node }, node, file: file, line: line)
        let f = try a.field(of: n.outputs[0])
        XCTAssertTrue(f.uniform, node, file: file, line: line)
        for axis in f.axes {
            let axis = try XCTUnwrap(axis, "\(node) has no finite field", file: file, line: line)
            XCTAssertEqual(axis.size, size, node, file: file, line: line)
            XCTAssertEqual(axis.stride, stride, node, file: file, line: line)
            XCTAssertEqual(axis.offset, offset, node, file: file, line: line)
        }
    }

    /// ResNet-18 by hand, (size r, jump j) per stage: conv1 7×7/2 → (7, 2); maxpool 3×3/2 →
    /// 7 + 2·2 = 11, j 4; layer1, four 3×3/1 convs adding 2·4 each → 11 + 32 = 43; layer2: its
    /// first conv (stride 2) adds 2·4 → 51, j 8, three more add 16 each → 99; layer3: 99 + 16 =
    /// 115, j 16, + 3·32 → 211; layer4: 211 + 32 = 243, j 32, + 3·64 → 435. Every window is
    /// centred (pads (k−1)/2; the 1×1 stride-2 shortcut reads unit 2i, the 3×3 stride-2 conv
    /// 2i−1…2i+1), so unit 0's field is centred on pixel 0. The shortcut's own field is smaller
    /// (layer2's downsample: 43 + 0 = 43) and the union keeps the larger.
    func testResNet18KnownAnswers() throws {
        let a = try analysis("Tests/LoupeGraphTests/Fixtures/receptive-field/resnet18-structure.onnx")
        try assertField(a, "/conv1/Conv", size: 7, stride: 2, offset: 0)
        try assertField(a, "/maxpool/MaxPool", size: 11, stride: 4, offset: 0)
        try assertField(a, "/layer1/layer1.1/relu_1/Relu", size: 43, stride: 4, offset: 0)
        try assertField(a, "/layer2/layer2.0/downsample/downsample.0/Conv", size: 43, stride: 8, offset: 0)
        try assertField(a, "/layer2/layer2.1/relu_1/Relu", size: 99, stride: 8, offset: 0)
        try assertField(a, "/layer3/layer3.1/relu_1/Relu", size: 211, stride: 16, offset: 0)
        try assertField(a, "/layer4/layer4.1/relu_1/Relu", size: 435, stride: 32, offset: 0)
        for node in ["/avgpool/GlobalAveragePool", "/Flatten", "/fc/Gemm"] {
            let n = try XCTUnwrap(a.graph.nodes.first { $0.name == node })
            let f = try a.field(of: n.outputs[0])
            XCTAssertFalse(f.isFinite, node)
            XCTAssertEqual(f.axes, [nil, nil], node)
        }
    }

    /// VGG-16 by hand: each 3×3/1 conv (pads 1) adds 2·j, each 2×2/2 pool (no pads) adds j and
    /// doubles j. Block 1: 1 + 2 + 2 = 5, pool → 6, j 2; block 2: 6 + 4 + 4 = 14, pool → 16, j 4;
    /// block 3: 16 + 3·8 = 40, pool → 44, j 8; block 4: 44 + 3·16 = 92, pool → 100, j 16;
    /// block 5: 100 + 3·32 = 196, pool → 212, j 32. The pools read units 2i and 2i+1, so unit
    /// 0's field moves right by j/2 at each: offsets 0.5, 1.5, 3.5, 7.5, 15.5.
    func testVGG16KnownAnswers() throws {
        let a = try analysis("Tests/LoupeGraphTests/Fixtures/receptive-field/vgg16-structure.onnx")
        try assertField(a, "/features/features.3/Relu", size: 5, stride: 1, offset: 0)
        try assertField(a, "/features/features.4/MaxPool", size: 6, stride: 2, offset: 0.5)
        try assertField(a, "/features/features.8/Relu", size: 14, stride: 2, offset: 0.5)
        try assertField(a, "/features/features.9/MaxPool", size: 16, stride: 4, offset: 1.5)
        try assertField(a, "/features/features.15/Relu", size: 40, stride: 4, offset: 1.5)
        try assertField(a, "/features/features.16/MaxPool", size: 44, stride: 8, offset: 3.5)
        try assertField(a, "/features/features.22/Relu", size: 92, stride: 8, offset: 3.5)
        try assertField(a, "/features/features.23/MaxPool", size: 100, stride: 16, offset: 7.5)
        try assertField(a, "/features/features.29/Relu", size: 196, stride: 16, offset: 7.5)
        try assertField(a, "/features/features.30/MaxPool", size: 212, stride: 32, offset: 15.5)
        for node in ["/Flatten", "/classifier/classifier.0/Gemm"] {
            let n = try XCTUnwrap(a.graph.nodes.first { $0.name == node })
            XCTAssertFalse(try a.field(of: n.outputs[0]).isFinite, node)
        }
    }

    // MARK: - Empirical

    /// A copy whose output is a positive, linear function of every input pixel it reads: ReLU-
    /// like ops become Identity, MaxPool an AveragePool over the same window, and the weights
    /// of Conv, ConvTranspose, Gemm and BatchNormalization become positive. The input pixels
    /// with a non-zero gradient of a unit are then exactly those it depends on.
    func linearised(_ graph: Graph) -> Graph {
        var g = graph
        var weights = Set<String>()
        for i in g.nodes.indices {
            let n = g.nodes[i]
            switch n.opType {
            case "Relu", "Clip", "LeakyRelu", "HardSwish", "HardSigmoid", "PRelu":
                g.nodes[i] = Node(name: n.name, opType: "Identity", inputs: [n.inputs[0]], outputs: n.outputs)
            case "MaxPool":
                var attrs = n.attributes
                attrs["storage_order"] = nil
                g.nodes[i] = Node(name: n.name, opType: "AveragePool", inputs: n.inputs, outputs: [n.outputs[0]], attributes: attrs)
            case "Conv", "ConvTranspose", "Gemm", "BatchNormalization":
                weights.formUnion(n.inputs.dropFirst())
            default:
                break
            }
        }
        for name in weights {
            guard let w = g.initializers[name], w.isFloat else { continue }
            g.initializers[name] = Tensor(shape: w.shape, floats: w.floats.map { abs($0) + 0.01 })
        }
        return g
    }

    /// For every node with a 4-D output of more than one position: the non-zero gradient of
    /// units (0, 0) and (u, v) (the middle) over the input spans exactly the computed input
    /// region of those units (without holes unless `holes` allows them), and where that unit's
    /// field lies inside the input, the region is the field of unit 0 moved by (u, v) strides.
    func checkEmpirically(_ graph: Graph, inputShape: [Int], holes: Bool = false,
                          file: StaticString = #filePath, line: UInt = #line) throws {
        let input = graph.inputs[0].name
        // Winograd's transforms mix the inputs of a tile and cancel only in exact arithmetic:
        // units outside the field get gradients of rounding size. The structure is what is
        // measured here, so the direct kernels run (`--exact`).
        let winograd = LoupeConfiguration.current.winograd
        LoupeConfiguration.update { $0.winograd = false }
        defer { LoupeConfiguration.update { $0.winograd = winograd } }
        let a = try ReceptiveFieldAnalysis(graph: graph, inputTypes: [input: TensorType(.float32, inputShape)])
        let lin = linearised(graph)
        let executor = try Executor(graph: lin)
        var rng = SplitMix64(seed: 11)
        let x = Tensor(shape: inputShape, floats: (0..<inputShape.reduce(1, *)).map { _ in 0.5 + rng.nextFloat() })
        let (h, w) = (inputShape[2], inputShape[3])
        var checked = 0, interior = 0
        for n in a.graph.nodes {
            guard let o = n.outputs.first, let t = a.types[o], t.shape.count == 4,
                  t.shape[2] * t.shape[3] > 1 else { continue }
            let f = try a.field(of: o)
            let fh = try XCTUnwrap(f.axes[0], n.name, file: file, line: line)
            let fw = try XCTUnwrap(f.axes[1], n.name, file: file, line: line)
            let (mh, mw) = (t.shape[2] / 2, t.shape[3] / 2)
            for (u, v) in [(0, 0), (mh, mw), (mh / 4 * 4, mw / 4 * 4)] {
                let r = try executor.gradients(feeds: [input: x], output: o, seed: { y in
                    var s = [Float](repeating: 0, count: y.count)
                    for c in 0..<y.shape[1] { s[(c * y.shape[2] + u) * y.shape[3] + v] = 1 }
                    return Tensor(shape: y.shape, floats: s)
                }, wrt: [input])
                let gx = try XCTUnwrap(r.gradients[input])
                var rows = Set<Int>(), cols = Set<Int>(), count = 0
                for c in 0..<inputShape[1] { for i in 0..<h { for j in 0..<w where gx.floats[(c * h + i) * w + j] != 0 {
                    if c == 0 || !(rows.contains(i) && cols.contains(j)) { count += 1 }
                    rows.insert(i); cols.insert(j)
                } } }
                let region = try a.inputRegion(of: o, unit: [u, v])
                let got = (rows.min() ?? -1, rows.max() ?? -1, cols.min() ?? -1, cols.max() ?? -1)
                let want = (region[0]?.lowerBound ?? -1, region[0]?.upperBound ?? -1, region[1]?.lowerBound ?? -1, region[1]?.upperBound ?? -1)
                if holes {
                    // Holes inside an intermediate field make the clipped region a bounding box.
                    XCTAssertTrue(want.0 <= got.0 && got.1 <= want.1 && want.2 <= got.2 && got.3 <= want.3, "\(n.name) unit (\(u), \(v)): computed \(want), measured \(got)", file: file, line: line)
                } else {
                    XCTAssertTrue(want == got, "\(n.name) unit (\(u), \(v)): computed \(want), measured \(got)", file: file, line: line)
                }
                // Away from the borders, with whole strides, that is the field moved by (u, v)
                // strides (after a ConvTranspose or an upsampling, for units at the same phase:
                // multiples of 4 here).
                if u % 4 == 0, v % 4 == 0, fh.stride == fh.stride.rounded(), fw.stride == fw.stride.rounded() {
                    let top = fh.first + u * Int(fh.stride), left = fw.first + v * Int(fw.stride)
                    if top >= 0, left >= 0, top + fh.size <= h, left + fw.size <= w {
                        XCTAssertTrue(want == (top, top + fh.size - 1, left, left + fw.size - 1), "\(n.name) unit (\(u), \(v)): field \(fh), \(fw) vs region \(want)", file: file, line: line)
                        interior += 1
                    }
                }
                if !holes {
                    XCTAssertEqual(rows.count * cols.count, (want.1 - want.0 + 1) * (want.3 - want.2 + 1), "\(n.name): holes", file: file, line: line)
                }
            }
            checked += 1
        }
        XCTAssertGreaterThan(checked, 0, file: file, line: line)
        XCTAssertGreaterThan(interior, 0, "no unit's field lies inside the input", file: file, line: line)
    }

    func load(_ relative: String) throws -> Graph {
        try ModelFile.load(path: Self.root.appendingPathComponent(relative).path)
    }

    func testEmpiricalTinyCNNAndShapes() throws {
        try checkEmpirically(try load("SampleModels/tiny-cnn/tiny-cnn.onnx"), inputShape: [1, 3, 64, 64])
        try checkEmpirically(try load("SampleModels/shapes/shapes-vgg.onnx"), inputShape: [1, 3, 64, 64])
        try checkEmpirically(try load("SampleModels/shapes/shapes-gap.onnx"), inputShape: [1, 3, 64, 64])
    }

    /// Residual additions (tiny-resnet) and Fire modules' concatenations of 1×1 and 3×3
    /// branches, with ceil-mode pools (SqueezeNet 1.1).
    func testEmpiricalResidualAndConcat() throws {
        try checkEmpirically(try load("Tests/LoupeExplainTests/Fixtures/tiny-resnet.onnx"), inputShape: [1, 3, 96, 96])
        try checkEmpirically(try load("Tests/LoupeExplainTests/Fixtures/squeezenet1_1.onnx"), inputShape: [1, 3, 96, 96])
    }

    /// Explicit Pad, SAME_LOWER stride-2 conv, dilated conv (holes inside the field), a
    /// padded stride-1 max pool, a channel Concat and Split, a residual Add, ConvTranspose
    /// (stride 2), linear Resize down and nearest Resize up, and a strided Slice.
    func handBuilt() -> Graph {
        var g = Graph()
        g.opset = 13
        var rng = SplitMix64(seed: 3)
        func weights(_ shape: [Int]) -> Tensor { Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in rng.nextFloat() - 0.5 }) }
        func ints(_ v: [Int]) -> Tensor { Tensor(shape: [v.count], ints: v.map(Int64.init), dtype: .int64) }
        g.inputs = [ValueInfo(name: "x", dtype: .float32, dims: [1, 2, 20, 20].map { .fixed($0) })]
        g.initializers = [
            "pads": ints([0, 0, 1, 2, 0, 0, 0, 1]), "w1": weights([4, 2, 3, 3]), "w2": weights([4, 4, 3, 3]),
            "wt": weights([4, 2, 4, 4]), "down": Tensor(shape: [4], floats: [1, 1, 0.5, 0.5]),
            "up": Tensor(shape: [4], floats: [1, 1, 2, 2]),
            "starts": ints([1, 0]), "ends": ints([21, 24]), "axes": ints([2, 3]), "steps": ints([2, 1]),
        ]
        g.nodes = [
            Node(name: "pad", opType: "Pad", inputs: ["x", "pads"], outputs: ["p"]),
            Node(name: "same", opType: "Conv", inputs: ["p", "w1"], outputs: ["c"],
                 attributes: ["strides": .ints([2, 2]), "auto_pad": .string("SAME_LOWER")]),
            Node(name: "dilated", opType: "Conv", inputs: ["c", "w2"], outputs: ["d"],
                 attributes: ["dilations": .ints([2, 2]), "pads": .ints([2, 2, 2, 2])]),
            Node(name: "pool", opType: "MaxPool", inputs: ["c"], outputs: ["m"],
                 attributes: ["kernel_shape": .ints([2, 2]), "pads": .ints([0, 0, 1, 1])]),
            Node(name: "cat", opType: "Concat", inputs: ["d", "m"], outputs: ["cat"], attributes: ["axis": .int(1)]),
            Node(name: "split", opType: "Split", inputs: ["cat"], outputs: ["s1", "s2"], attributes: ["axis": .int(1)]),
            Node(name: "add", opType: "Add", inputs: ["s1", "s2"], outputs: ["sum"]),
            Node(name: "convT", opType: "ConvTranspose", inputs: ["sum", "wt"], outputs: ["ct"],
                 attributes: ["strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1])]),
            Node(name: "down", opType: "Resize", inputs: ["ct", "", "down"], outputs: ["r1"], attributes: ["mode": .string("linear")]),
            Node(name: "up", opType: "Resize", inputs: ["r1", "", "up"], outputs: ["r2"], attributes: ["mode": .string("nearest")]),
            Node(name: "slice", opType: "Slice", inputs: ["r2", "starts", "ends", "axes", "steps"], outputs: ["out"]),
        ]
        g.outputs = [ValueInfo(name: "out", dtype: .float32, dims: nil)]
        return g
    }

    func testEmpiricalHandBuiltGraph() throws {
        try checkEmpirically(handBuilt(), inputShape: [1, 2, 20, 20], holes: true)
    }
}
