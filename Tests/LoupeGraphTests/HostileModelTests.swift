import Foundation
import LoupeFormats
import LoupeGraph
import LoupeTensor
import XCTest

/// Hostile-input test for the ONNX importer and the executor.
///
/// A fixed list of small conformance models is mutated with a seeded RNG: byte-level damage
/// (truncation, bit flips, overwrites, range duplication and deletion) and structured edits
/// made on the decoded protobuf (absurd, negative and zero dimensions, dims that disagree
/// with the data, wrong dtype codes, attribute values and types, cycles, missing inputs,
/// duplicated outputs, unknown ops and domains, external data pointing anywhere). Each mutant
/// is imported and, if that succeeds, built into an `Executor` and run once. Every failure
/// must be a thrown `LoupeError` with a message; a trap kills the test process.
///
/// To hunt a crash: `LOUPE_FUZZ_TRACE=1` prints each mutant before running it,
/// `LOUPE_FUZZ_RANGE=lo-hi` runs a slice of the global mutant numbers, `LOUPE_FUZZ_SKIP=a,b`
/// skips some, `LOUPE_FUZZ_DUMP=dir` writes the mutants there.
final class HostileModelTests: XCTestCase {
    // MARK: - Deterministic cases

    /// An initializer declaring [1000000, 1000000] (10^12 elements) is refused before allocation.
    func testHugeInitializerIsRefused() throws {
        let dir = try Fuzz.tempDir("huge")
        defer { try? FileManager.default.removeItem(at: dir) }
        for dims: [Int64] in [[1_000_000, 1_000_000], [1 << 31, 1 << 31, 1 << 31], [Int64.max, 2], [1 << 62],
                             [3, Int64.max, 0], [0, 1 << 62, 1 << 62]] {
            var w = PB()
            for d in dims { w.append(1, varint: UInt64(bitPattern: d)) }
            w.append(2, varint: 1)
            w.append(8, string: "W")
            w.append(9, bytes: [0, 0, 128, 63])
            let path = dir.appendingPathComponent("model.onnx").path
            try Fuzz.write(Fuzz.identityModel(initializer: w), to: path)
            XCTAssertThrowsError(try ONNXImporter.load(path: path), "dims \(dims)") { e in
                guard let e = e as? LoupeError else { return XCTFail("not a LoupeError: \(e)") }
                XCTAssertEqual(e.kind, .tooLarge, "dims \(dims): \(e.message)")
                XCTAssertFalse(e.message.isEmpty)
            }
        }
        // The same through a typed field (float_data) and through a bare TensorProto file.
        var w = PB()
        w.append(1, varint: 1_000_000); w.append(1, varint: 1_000_000)
        w.append(2, varint: 1); w.append(8, string: "W"); w.append(4, bytes: [0, 0, 128, 63])
        let tpath = dir.appendingPathComponent("t.pb").path
        try Fuzz.write(w.serialized(), to: tpath)
        XCTAssertThrowsError(try ONNXImporter.loadTensor(path: tpath)) { e in
            XCTAssertEqual((e as? LoupeError)?.kind, .tooLarge, "\(e)")
        }
    }

    /// External data may only come from files inside the model's folder.
    func testExternalDataOutsideFolderIsRefused() throws {
        let dir = try Fuzz.tempDir("external")
        defer { try? FileManager.default.removeItem(at: dir) }
        let fm = FileManager.default
        let sub = dir.appendingPathComponent("sub")
        try fm.createDirectory(at: sub, withIntermediateDirectories: true)
        try Data([0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64]).write(to: dir.appendingPathComponent("w.bin"))
        try? fm.createSymbolicLink(atPath: dir.appendingPathComponent("link.bin").path, withDestinationPath: "/etc/passwd")
        let path = sub.appendingPathComponent("model.onnx").path

        func model(_ entries: [(String, String)]) -> [UInt8] {
            var w = PB()
            w.append(1, varint: 4); w.append(2, varint: 1); w.append(8, string: "W")
            for (k, v) in entries {
                var e = PB(); e.append(1, string: k); e.append(2, string: v)
                w.append(13, message: e)
            }
            w.append(14, varint: 1)
            return Fuzz.identityModel(initializer: w)
        }
        // Escaping locations: refused with .invalidModel naming the location.
        for loc in ["../../etc/passwd", "/etc/passwd", "../../../../../../etc/passwd", "../link.bin", "./../sub/../../etc/passwd"] {
            try Fuzz.write(model([("location", loc)]), to: path)
            XCTAssertThrowsError(try ONNXImporter.load(path: path), loc) { e in
                guard let e = e as? LoupeError else { return XCTFail("\(loc): not a LoupeError: \(e)") }
                XCTAssertEqual(e.kind, .invalidModel, "\(loc): \(e.message)")
                XCTAssertTrue(e.message.contains("escapes"), "\(loc): \(e.message)")
            }
        }
        // A file inside the folder is read (positive control) ...
        try fm.copyItem(at: dir.appendingPathComponent("w.bin"), to: sub.appendingPathComponent("w.bin"))
        try Fuzz.write(model([("location", "w.bin")]), to: path)
        let g = try ONNXImporter.load(path: path)
        XCTAssertEqual(g.initializers["W"]?.floats, [1, 2, 3, 4])
        // ... but offsets and lengths that run past its end, overflow, or are not numbers throw.
        for (off, len) in [("1", "9223372036854775807"), ("9223372036854775807", "1"), ("16", "1"), ("-1", "4"),
                           ("0", "-16"), ("x", "16"), ("0", "99999999999999999999"), ("4", "16"), ("0", "15")] {
            try Fuzz.write(model([("location", "w.bin"), ("offset", off), ("length", len)]), to: path)
            XCTAssertThrowsError(try ONNXImporter.load(path: path), "offset \(off) length \(len)") { e in
                XCTAssertNotNil(e as? LoupeError, "offset \(off) length \(len): \(e)")
            }
        }
        // A directory and a missing file.
        try fm.createDirectory(at: sub.appendingPathComponent("d"), withIntermediateDirectories: true)
        for loc in ["d", "missing.bin", "."] {
            try Fuzz.write(model([("location", loc)]), to: path)
            XCTAssertThrowsError(try ONNXImporter.load(path: path), loc) { e in
                XCTAssertNotNil(e as? LoupeError, "\(loc): \(e)")
            }
        }
    }

    // MARK: - Mutants

    func testMutantsNeverCrash() throws {
        let env = ProcessInfo.processInfo.environment
        let trace = env["LOUPE_FUZZ_TRACE"] != nil
        var range = 0..<Int.max
        if let r = env["LOUPE_FUZZ_RANGE"] {
            let p = r.split(separator: "-").compactMap { Int($0) }
            if p.count == 2 { range = p[0]..<(p[1] + 1) } else if p.count == 1 { range = p[0]..<(p[0] + 1) }
        }
        let skip = Set((env["LOUPE_FUZZ_SKIP"] ?? "").split(separator: ",").compactMap { Int($0) })
        let seed = env["LOUPE_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x10_0BE5EED
        var seedRNG = SplitMix64(seed: seed)
        let seedHash = seedRNG.next()
        let dump = env["LOUPE_FUZZ_DUMP"].map { URL(fileURLWithPath: $0) }
        if let dump { try FileManager.default.createDirectory(at: dump, withIntermediateDirectories: true) }

        let dir = try Fuzz.tempDir("mutants")
        defer { try? FileManager.default.removeItem(at: dir) }
        // Files that external-data mutants may point at.
        try Data((0..<256).map { UInt8($0) }).write(to: dir.appendingPathComponent("weights.bin"))
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("subdir"), withIntermediateDirectories: true)
        let modelPath = dir.appendingPathComponent("model.onnx").path
        let tensorPath = dir.appendingPathComponent("input.pb").path

        // Absurd-but-legal shapes (2^31 elements) would allocate gigabytes; cap them lower here
        // so that such mutants are refused as .tooLarge instead of paging for minutes.
        let savedMax = Tensor.maxElements
        LoupeConfiguration.update { $0.maxElements = 1 << 24 }
        defer { LoupeConfiguration.update { $0.maxElements = savedMax } }

        let cases = try Fuzz.cases.map { try Fuzz.Case(load: $0.0, mutants: $0.1) }
        var stats = Fuzz.Stats()
        var kinds: [String: Int] = [:]
        var slowest = (0.0, "")
        var slow: [String] = []
        let start = Date()
        var g = 0
        for (ci, c) in cases.enumerated() {
            for k in 0..<c.mutantCount {
                defer { g += 1 }
                guard range.contains(g), !skip.contains(g) else { continue }
                var rng = SplitMix64(seed: seedHash ^ UInt64(ci) << 32 ^ UInt64(k))
                let m = c.mutant(k, &rng)
                if trace { print("[fuzz] #\(g) \(c.name) \(m.description)"); fflush(stdout) }
                if let dump { try? Data(m.bytes).write(to: dump.appendingPathComponent("\(g)\(m.isTensor ? ".pb" : ".onnx")")) }
                let t0 = Date()
                let outcome = Fuzz.run(m, case: c, modelPath: modelPath, tensorPath: tensorPath)
                let dt = Date().timeIntervalSince(t0)
                if dt > slowest.0 { slowest = (dt, "#\(g) \(c.name) \(m.description)") }
                if dt > 2 { slow.append("#\(g) \(String(format: "%.1f", dt)) s \(c.name) \(m.description)") }
                stats.mutants += 1
                switch outcome {
                case .importRejected(let e): stats.importRejected += 1; kinds["import " + e.kind.rawValue, default: 0] += 1
                case .runRejected(let e): stats.imported += 1; stats.runRejected += 1; kinds["run " + e.kind.rawValue, default: 0] += 1
                case .ran: stats.imported += 1; stats.ran += 1
                case .foreign(let stage, let error):
                    XCTFail("#\(g) \(c.name) \(m.description): \(stage) threw a non-LoupeError: \(error)")
                case .emptyMessage(let stage):
                    XCTFail("#\(g) \(c.name) \(m.description): \(stage) threw a LoupeError with an empty message")
                }
                if trace {
                    var what = "ran"
                    if case .importRejected(let e) = outcome { what = "import: \(e.message)" }
                    if case .runRejected(let e) = outcome { what = "run: \(e.message)" }
                    print("[fuzz] #\(g) done in \(String(format: "%.3f", dt)) s: \(what.prefix(300))"); fflush(stdout)
                }
            }
        }
        let total = Date().timeIntervalSince(start)
        print("hostile models — mutants \(stats.mutants) · imported ok \(stats.imported) · rejected at import \(stats.importRejected) · rejected at run \(stats.runRejected) · ran ok \(stats.ran) · \(String(format: "%.1f", total)) s")
        print("hostile models — errors by stage and kind: " + kinds.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        print("hostile models — slowest mutant \(String(format: "%.3f", slowest.0)) s: \(slowest.1)")
        for s in slow { print("hostile models — slow mutant \(s)") }
        if range == 0..<Int.max && skip.isEmpty {
            XCTAssertGreaterThanOrEqual(stats.mutants, 2000)
        }
        // The work is bounded per mutant (Tensor.maxElements above caps every allocation);
        // the clock only guards against a hang, with room for a loaded machine. The time
        // taken and the slowest mutants are printed above.
        XCTAssertLessThan(total, 900, "the hostile-model run took \(String(format: "%.0f", total)) s; the slowest mutants are printed above")
    }
}

// MARK: - Harness

enum Fuzz {
    /// (case, number of mutants). onnx-node cases with several inputs also get a variant where
    /// every input but the first is an initializer, so that shape-like inputs are constants.
    static let cases: [(String, Int)] = [
        ("onnx-node/test_conv_with_strides_padding", 280),
        ("onnx-node/test_conv_with_autopad_same", 170),
        ("onnx-node/test_maxpool_2d_pads", 170),
        ("onnx-node/test_averagepool_2d_strides", 140),
        ("onnx-node/test_globalaveragepool", 80),
        ("onnx-node/test_reshape_reordered_all_dims", 210),
        ("onnx-node/test_gemm_all_attributes", 210),
        ("onnx-node/test_concat_3d_axis_1", 170),
        ("onnx-node/test_batchnorm_example", 210),
        ("onnx-node/test_resize_upsample_scales_nearest", 210),
        ("onnx-node/test_slice", 210),
        ("onnx-node/test_constant_pad", 170),
        ("onnx-node/test_split_variable_parts_2d_opset13", 140),
        ("onnx-node/test_gather_0", 170),
        ("onnx-node/test_transpose_all_permutations_2", 110),
        ("onnx-node/test_flatten_axis1", 80),
        ("onnx-node/test_softmax_axis_1", 80),
        ("onnx-node/test_convtranspose", 170),
        ("pytorch-converted/test_Conv2d_groups", 210),
        ("pytorch-converted/test_BatchNorm2d_eval", 170),
        ("pytorch-converted/test_ConstantPad2d", 140),
        ("pytorch-converted/test_Linear", 140),
        ("onnx-light/light_squeezenet", 140),
    ]

    static var root: URL {
        if let d = ProcessInfo.processInfo.environment["LOUPE_CONFORMANCE_DIR"] { return URL(fileURLWithPath: d) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/conformance")
    }

    static func tempDir(_ tag: String) throws -> URL {
        let d = FileManager.default.temporaryDirectory
            .appendingPathComponent("loupe-hostile-\(tag)-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.removeItem(at: d)
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// A model `Y = Identity(W)` around the given initializer TensorProto (named W).
    static func identityModel(initializer w: PB) -> [UInt8] {
        var node = PB()
        node.append(1, string: "W"); node.append(2, string: "Y"); node.append(4, string: "Identity")
        var y = PB(); y.append(1, string: "Y")
        var g = PB()
        g.append(1, message: node); g.append(2, string: "g"); g.append(5, message: w); g.append(12, message: y)
        var opset = PB(); opset.append(2, varint: 13)
        var m = PB()
        m.append(1, varint: 8); m.append(7, message: g); m.append(8, message: opset)
        return m.serialized()
    }

    struct Stats { var mutants = 0, imported = 0, importRejected = 0, runRejected = 0, ran = 0 }

    enum Outcome {
        case importRejected(LoupeError), runRejected(LoupeError), ran
        case foreign(String, Error), emptyMessage(String)
    }

    struct Mutant {
        var bytes: [UInt8]
        var description: String
        /// Bytes of a TensorProto fed to `loadTensor` (then to the unmodified model) instead of a model.
        var isTensor = false
    }

    /// One conformance case: its model bytes (and the frozen variant), its inputs, and its graph.
    struct Case {
        let name: String
        let mutantCount: Int
        let bases: [PB]
        let baseBytes: [[UInt8]]
        let inputBytes: [[UInt8]]
        let feeds: [String: Tensor]
        let originalPath: String

        init(load name: String, mutants: Int) throws {
            self.name = name
            self.mutantCount = mutants
            let root = Fuzz.root
            var inputs: [Tensor] = [], inputBytes: [[UInt8]] = []
            if name.hasPrefix("onnx-light/") {
                originalPath = root.appendingPathComponent(name + ".onnx").path
            } else {
                let d = root.appendingPathComponent(name)
                originalPath = d.appendingPathComponent("model.onnx").path
                var i = 0
                while true {
                    let p = d.appendingPathComponent("test_data_set_0/input_\(i).pb").path
                    guard FileManager.default.fileExists(atPath: p) else { break }
                    inputs.append(try ONNXImporter.loadTensor(path: p))
                    inputBytes.append([UInt8](try Data(contentsOf: URL(fileURLWithPath: p))))
                    i += 1
                }
            }
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: originalPath)))
            let graph = try ONNXImporter.load(path: originalPath)
            var feeds: [String: Tensor] = [:]
            if name.hasPrefix("onnx-light/") {
                for info in graph.inputs {
                    let shape = (info.dims ?? []).map { $0.value ?? 1 }
                    let n = shape.reduce(1, *)
                    feeds[info.name] = Tensor(shape: shape, floats: (0..<n).map { Float($0) / Float(n) })
                }
            } else {
                for (info, t) in zip(graph.inputs, inputs) { feeds[info.name] = t }
            }
            guard let model = PB(bytes) else { throw LoupeError.invalid("\(name): my wire parser cannot read the model") }
            var bases = [model]
            if inputs.count > 1 {
                // Frozen variant: inputs 1... become initializers.
                var m = model
                _ = m.edit(7) { g in
                    for (k, info) in graph.inputs.enumerated() where k >= 1 && k < inputBytes.count {
                        guard var t = PB(inputBytes[k]) else { continue }
                        t.set(8, string: info.name)
                        g.append(5, message: t)
                    }
                    return true
                }
                bases.append(m)
            }
            self.bases = bases
            self.baseBytes = bases.map { $0.serialized() }
            self.inputBytes = inputBytes
            self.feeds = feeds
        }

        func mutant(_ k: Int, _ rng: inout SplitMix64) -> Mutant {
            let b = k % bases.count
            let tag = bases.count > 1 ? (b == 0 ? "[orig] " : "[frozen] ") : ""
            let roll = rng.int(100)
            if roll < 8, let input = inputBytes.first {
                // Damage the first input's TensorProto and feed it to the intact model.
                if rng.int(2) == 0, var t = PB(input) {
                    var d: [String] = []
                    for _ in 0..<(1 + rng.int(2)) { d.append(Mutate.tensor(&t, &rng)) }
                    return Mutant(bytes: t.serialized(), description: tag + "input tensor: " + d.joined(separator: "; "), isTensor: true)
                }
                var bytes = input
                let d = Mutate.bytes(&bytes, &rng)
                return Mutant(bytes: bytes, description: tag + "input tensor bytes: " + d, isTensor: true)
            }
            if roll < 30 {
                var bytes = baseBytes[b]
                var d: [String] = []
                for _ in 0..<(1 + rng.int(3)) { d.append(Mutate.bytes(&bytes, &rng)) }
                return Mutant(bytes: bytes, description: tag + "bytes: " + d.joined(separator: "; "))
            }
            var m = bases[b]
            var d: [String] = []
            let n = rng.int(4) == 0 ? 2 + rng.int(2) : 1
            var tries = 0
            while d.count < n && tries < 20 {
                tries += 1
                if let s = Mutate.model(&m, &rng) { d.append(s) }
            }
            var bytes = m.serialized()
            if rng.int(10) == 0 { d.append(Mutate.bytes(&bytes, &rng)) }
            return Mutant(bytes: bytes, description: tag + d.joined(separator: "; "))
        }
    }

    static func run(_ m: Mutant, case c: Case, modelPath: String, tensorPath: String) -> Outcome {
        func classify(_ e: Error, _ stage: String, _ wrap: (LoupeError) -> Outcome) -> Outcome {
            guard let le = e as? LoupeError else { return .foreign(stage, e) }
            return le.message.isEmpty ? .emptyMessage(stage) : wrap(le)
        }
        var graph: Graph
        var feeds = c.feeds
        if m.isTensor {
            do {
                try write(m.bytes, to: tensorPath)
                let t = try ONNXImporter.loadTensor(path: tensorPath)
                graph = try ONNXImporter.load(path: c.originalPath)
                if let first = graph.inputs.first { feeds[first.name] = t }
            } catch {
                return classify(error, "loadTensor") { .importRejected($0) }
            }
        } else {
            do {
                try write(m.bytes, to: modelPath)
                graph = try ONNXImporter.load(path: modelPath)
            } catch {
                return classify(error, "import") { .importRejected($0) }
            }
            // Feed the case's data where it fits the declared input, else zeros of the declared shape.
            for info in graph.inputs {
                let declared = info.dims.map { $0.map { $0.value ?? 1 } }
                if let t = feeds[info.name], declared == nil || declared! == t.shape, t.dtype == info.dtype { continue }
                if let shape = declared, let n = try? Tensor.checkedCount(shape), n <= 1 << 20,
                   let z = try? Tensor(zeros: shape, dtype: info.dtype) {
                    feeds[info.name] = z
                }
            }
        }
        do {
            let exec = try Executor(graph: graph)
            _ = try exec.run(feeds)
            return .ran
        } catch {
            return classify(error, "executor") { .runRejected($0) }
        }
    }
}

// MARK: - Mutations

enum Mutate {
    /// Values that break size arithmetic: zero, negatives, 2^31 edges, 10^12, 2^62, Int64 extremes.
    static let interesting: [Int64] = [0, -1, -2, 1, 2, 3, 5, 64, 1000, 65536, 1 << 20, (1 << 31) - 1, 1 << 31,
                                       1 << 32, 1_000_000_000_000, 1 << 62, Int64.max, Int64.min, Int64.min + 1,
                                       -(1 << 31), -1000, -(1 << 62)]

    static func value(_ rng: inout SplitMix64) -> Int64 {
        rng.int(4) == 0 ? Int64(rng.int(9)) - 2 : interesting[rng.int(interesting.count)]
    }

    static let opTypes = ["Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
                          "BatchNormalization", "InstanceNormalization", "LRN", "Gemm", "MatMul", "Reshape", "Flatten",
                          "Concat", "Split", "Slice", "Gather", "Transpose", "Squeeze", "Unsqueeze", "Pad", "Resize",
                          "Upsample", "Softmax", "LogSoftmax", "Relu", "Add", "Mul", "Sub", "Div", "Sum", "Max",
                          "Identity", "Dropout", "Clip", "Expand", "Tile", "ConstantOfShape", "Shape", "Size",
                          "ReduceMean", "ReduceSum", "ReduceMax", "ArgMax", "Cast", "Where", "Range", "Constant",
                          "DepthToSpace", "SpaceToDepth", "PRelu", "LeakyRelu", "Sigmoid", "Sqrt", "Pow", "Einsum",
                          "TopK", "Loop", "If", "NoSuchOp", ""]
    static let attrNames = ["kernel_shape", "pads", "strides", "dilations", "group", "axis", "axes", "perm", "auto_pad",
                            "output_padding", "output_shape", "transA", "transB", "alpha", "beta", "epsilon", "mode",
                            "ceil_mode", "count_include_pad", "split", "keepdims", "allowzero", "blocksize", "to",
                            "value", "start", "end", "storage_order", "coordinate_transformation_mode"]
    static let names = ["", "x", "X", "W", "B", "y", "Y", "nonexistent", "output", "0", "1"]

    // Byte-level damage.
    static func bytes(_ b: inout [UInt8], _ rng: inout SplitMix64) -> String {
        guard !b.isEmpty else { b = [UInt8(rng.int(256))]; return "from empty" }
        switch rng.int(6) {
        case 0:
            let n = rng.int(b.count)
            b.removeLast(b.count - n)
            return "truncate to \(n)"
        case 1:
            let n = 1 + rng.int(8)
            for _ in 0..<n { let i = rng.int(b.count); b[i] ^= 1 << UInt8(rng.int(8)) }
            return "flip \(n) bits"
        case 2:
            let n = 1 + rng.int(4)
            let vals: [UInt8] = [0, 0xff, 0x7f, 0x80, 0x01, 0x0a, 0x12, 0x08]
            for _ in 0..<n { b[rng.int(b.count)] = rng.int(2) == 0 ? vals[rng.int(vals.count)] : UInt8(rng.int(256)) }
            return "overwrite \(n) bytes"
        case 3:
            let i = rng.int(b.count), n = 1 + rng.int(min(64, b.count - i))
            let piece = Array(b[i..<(i + n)])
            b.insert(contentsOf: piece, at: i + n)
            return "duplicate \(n) bytes at \(i)"
        case 4:
            let i = rng.int(b.count), n = 1 + rng.int(min(64, b.count - i))
            b.removeSubrange(i..<(i + n))
            return "delete \(n) bytes at \(i)"
        default:
            // Overwrite with a 10-byte varint of a huge value (a length or a dim).
            let i = rng.int(b.count)
            let v = PB.varintBytes(UInt64(bitPattern: interesting[rng.int(interesting.count)]))
            for (k, x) in v.enumerated() where i + k < b.count { b[i + k] = x }
            return "varint at \(i)"
        }
    }

    /// One structured edit of a ModelProto; nil when it did not apply.
    static func model(_ m: inout PB, _ rng: inout SplitMix64) -> String? {
        switch rng.int(23) {
        case 20, 21, 22:
            return m.edit(7) { g in g.editRandom(5, &rng) { t, rng in "initializer: " + values(&t, &rng) } }
        case 0, 1, 2:
            return m.edit(7) { g in g.editRandom(5, &rng) { t, rng in "initializer: " + tensor(&t, &rng) } }
        case 3, 4, 5:
            return m.edit(7) { g in g.editRandom(1, &rng) { n, rng in attribute(&n, &rng) } }
        case 6, 7:
            return m.edit(7) { g in nodes(&g, &rng) }
        case 8:
            return m.edit(7) { g in g.editRandom(1, &rng) { n, rng in
                if rng.int(3) == 0 {
                    let d = ["com.microsoft", "ai.onnx.ml", "ai.onnx", "x", ""][rng.int(5)]
                    n.set(7, string: d)
                    return "domain '\(d)'"
                }
                let op = opTypes[rng.int(opTypes.count)]
                n.set(4, string: op)
                return "op type '\(op)'"
            } }
        case 9, 10:
            return m.edit(7) { g in valueInfo(&g, &rng) }
        case 11:
            let v = [0, 1, 5, 7, 9, 10, 11, 13, 18, 21, 22, 23, 99, -1, 1 << 40][rng.int(15)]
            return m.editRandom(8, &rng) { o, _ in o.set(2, varint: UInt64(bitPattern: Int64(v))); return "opset \(v)" }
        case 12:
            let v = [0, 1, 3, 99, -1][rng.int(5)]
            m.set(1, varint: UInt64(bitPattern: Int64(v)))
            return "ir_version \(v)"
        case 13:
            // A Constant node with an absurd tensor, feeding a node's input.
            return m.edit(7) { g in
                let nodes = g.indices(of: 1)
                guard !nodes.isEmpty else { return nil }
                let ni = nodes[rng.int(nodes.count)]
                guard var n = g.message(at: ni) else { return nil }
                let ins = n.indices(of: 1)
                guard !ins.isEmpty else { return nil }
                var t = PB()
                let shape = (0..<rng.int(4)).map { _ in Int64(rng.int(4)) }
                for d in shape { t.append(1, varint: UInt64(d)) }
                t.append(2, varint: UInt64(rng.int(2) == 0 ? 7 : 1))
                let count = shape.reduce(1, *)
                var raw: [UInt8] = []
                for _ in 0..<count { raw += withUnsafeBytes(of: value(&rng).littleEndian, Array.init) }
                if t.varints(2).first == 1 { raw = Array(raw.prefix(Int(count) * 4)) }
                t.append(9, bytes: raw)
                var d: [String] = []
                if rng.int(2) == 0 { d.append(tensor(&t, &rng)) }
                var attr = PB(); attr.append(1, string: "value"); attr.append(20, varint: 4); attr.append(5, message: t)
                var c = PB(); c.append(2, string: "fuzz_const"); c.append(4, string: "Constant"); c.append(5, message: attr)
                c.append(3, string: "fuzz_const_node")
                let k = ins[rng.int(ins.count)]
                n.fields[k].value = .bytes(Array("fuzz_const".utf8))
                g.setMessage(n, at: ni)
                // Put the constant before the first node so the graph stays ordered.
                g.fields.insert(PB.Field(number: 1, value: .bytes(c.serialized())), at: nodes[0])
                return "constant input \(describe(shape.map(Int.init))) " + d.joined(separator: " ")
            }
        case 14:
            return m.edit(7) { g in
                let k = rng.int(3)
                if k == 0 { g.remove(11); return "no graph inputs" }
                if k == 1 { g.remove(12); return "no graph outputs" }
                g.remove(5); return "no initializers"
            }
        default:
            return m.edit(7) { g in g.editRandom(5, &rng) { t, rng in "initializer: " + tensor(&t, &rng) }
                ?? g.editRandom(1, &rng) { n, rng in attribute(&n, &rng) } }
        }
    }

    /// Hostile element values in a TensorProto's data (shape-like int64 inputs, scales, ...),
    /// keeping its size: huge, negative and zero integers; NaN, infinities and huge floats.
    static func values(_ t: inout PB, _ rng: inout SplitMix64) -> String {
        let dtype = t.varints(2).first ?? 1
        if let k = t.indices(of: 9).first, case .bytes(var raw) = t.fields[k].value, !raw.isEmpty {
            let width = dtype == 7 ? 8 : 4
            guard raw.count >= width else { return "raw_data too short" }
            var d: [String] = []
            for _ in 0..<(1 + rng.int(3)) {
                let i = rng.int(raw.count / width) * width
                if width == 8 {
                    let v = value(&rng)
                    for b in 0..<8 { raw[i + b] = UInt8(truncatingIfNeeded: UInt64(bitPattern: v) >> (8 * UInt64(b))) }
                    d.append("[\(i / 8)] = \(v)")
                } else {
                    let v: Float = [.nan, .infinity, -.infinity, 0, -1, 1e30, -1e30, 1e-30, 65536, 3e9][rng.int(10)]
                    let bits = dtype == 6 ? UInt32(truncatingIfNeeded: value(&rng)) : v.bitPattern
                    for b in 0..<4 { raw[i + b] = UInt8(truncatingIfNeeded: bits >> (8 * UInt32(b))) }
                    d.append("[\(i / 4)] = \(dtype == 6 ? "\(Int32(bitPattern: bits))" : "\(v)")")
                }
            }
            t.fields[k].value = .bytes(raw)
            return "values " + d.joined(separator: ", ")
        }
        if dtype == 7, !t.varints(7).isEmpty {
            var v = t.varints(7)
            let x = value(&rng)
            v[rng.int(v.count)] = UInt64(bitPattern: x)
            t.setVarints(7, v)
            return "int64_data value \(x)"
        }
        return tensor(&t, &rng)
    }

    /// Edits of a TensorProto: dims, dtype code, data fields, external data.
    static func tensor(_ t: inout PB, _ rng: inout SplitMix64) -> String {
        switch rng.int(9) {
        case 0, 1:
            var dims = t.varints(1)
            let v = value(&rng)
            if dims.isEmpty || rng.int(4) == 0 { dims.append(UInt64(bitPattern: v)) } else { dims[rng.int(dims.count)] = UInt64(bitPattern: v) }
            t.setVarints(1, dims)
            return "dims \(dims.map { Int64(bitPattern: $0) })"
        case 2:
            var dims = t.varints(1)
            if !dims.isEmpty && rng.int(2) == 0 { dims.remove(at: rng.int(dims.count)) } else { dims.append(UInt64(1 + rng.int(3))) }
            t.setVarints(1, dims)
            return "rank change to \(dims.map { Int64(bitPattern: $0) })"
        case 3:
            let v: Int64 = [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 22, 99, -1][rng.int(19)]
            t.set(2, varint: UInt64(bitPattern: v))
            return "data_type \(v)"
        case 4:
            // Shrink, grow or garble raw_data.
            guard let k = t.indices(of: 9).first, case .bytes(var raw) = t.fields[k].value else {
                t.append(9, bytes: [UInt8](repeating: 0xff, count: rng.int(20)))
                return "add raw_data"
            }
            switch rng.int(3) {
            case 0: raw.removeLast(min(raw.count, 1 + rng.int(8)))
            case 1: raw += [UInt8](repeating: 0, count: 1 + rng.int(8))
            default:
                for _ in 0..<(1 + rng.int(4)) where raw.count >= 8 {
                    let i = rng.int(raw.count / 8) * 8
                    let v = rng.int(2) == 0 ? UInt64(bitPattern: value(&rng)) : UInt64(Float.nan.bitPattern) << 32 | UInt64(Float.infinity.bitPattern)
                    for b in 0..<8 { raw[i + b] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(b))) }
                }
            }
            t.fields[k].value = .bytes(raw)
            return "raw_data \(raw.count) bytes"
        case 5:
            // Move between storage forms: drop raw_data, or add a typed field beside it.
            if rng.int(2) == 0 { t.remove(9); return "raw_data removed" }
            let field = [4, 5, 7, 10, 11][rng.int(5)]
            for _ in 0..<rng.int(5) { t.append(field, varint: UInt64(bitPattern: value(&rng))) }
            return "typed field \(field)"
        case 6, 7:
            t.set(14, varint: rng.int(5) == 0 ? 7 : 1)
            t.remove(13)
            let locs = ["../../etc/passwd", "/etc/passwd", "weights.bin", "subdir", "model.onnx", "missing.bin", "",
                        "./weights.bin", "subdir/../weights.bin", "..", "."]
            let loc = locs[rng.int(locs.count)]
            var entries = [("location", loc)]
            let nums = ["0", "1", "4", "16", "255", "256", "-1", "x", "9223372036854775807", "99999999999999999999", "18446744073709551615"]
            if rng.int(2) == 0 { entries.append(("offset", nums[rng.int(nums.count)])) }
            if rng.int(2) == 0 { entries.append(("length", nums[rng.int(nums.count)])) }
            if rng.int(4) == 0 { entries.append(("checksum", "abc")) }
            for (k, v) in entries { var e = PB(); e.append(1, string: k); e.append(2, string: v); t.append(13, message: e) }
            return "external \(entries.map { "\($0.0)=\($0.1)" }.joined(separator: ","))"
        default:
            if rng.int(2) == 0 {
                var seg = PB(); seg.append(1, varint: 0); seg.append(2, varint: 1)
                t.append(3, message: seg)
                return "segment"
            }
            t.set(8, string: names[rng.int(names.count)])
            return "renamed"
        }
    }

    /// Edits of one attribute of a node (or a new one).
    static func attribute(_ n: inout PB, _ rng: inout SplitMix64) -> String {
        let idx = n.indices(of: 5)
        if idx.isEmpty || rng.int(4) == 0 {
            // Add a common attribute with a hostile value.
            let name = attrNames[rng.int(attrNames.count)]
            var a = PB(); a.append(1, string: name)
            switch rng.int(4) {
            case 0: a.append(20, varint: 2); a.append(3, varint: UInt64(bitPattern: value(&rng)))
            case 1:
                a.append(20, varint: 7)
                for _ in 0..<rng.int(7) { a.append(8, varint: UInt64(bitPattern: value(&rng))) }
            case 2: a.append(20, varint: 3); a.append(4, string: ["SAME_UPPER", "VALID", "bogus", "", "linear"][rng.int(5)])
            default: a.append(20, varint: 1); a.append(2, fixed32: [Float.nan, .infinity, -1, 0, 1e30][rng.int(5)].bitPattern)
            }
            n.append(5, message: a)
            return "add attribute \(name)"
        }
        let k = idx[rng.int(idx.count)]
        guard var a = n.message(at: k) else { return "unparsable attribute" }
        let name = a.string(1) ?? "?"
        var what: String
        switch rng.int(6) {
        case 0, 1:
            // The int or one element of the ints.
            var ints = a.varints(8)
            let v = value(&rng)
            if !ints.isEmpty {
                ints[rng.int(ints.count)] = UInt64(bitPattern: v)
                a.setVarints(8, ints)
                what = "ints \(ints.map { Int64(bitPattern: $0) })"
            } else {
                a.set(3, varint: UInt64(bitPattern: v))
                what = "i \(v)"
            }
        case 2:
            var ints = a.varints(8)
            if !ints.isEmpty && rng.int(2) == 0 { ints.remove(at: rng.int(ints.count)) } else { ints.append(UInt64(rng.int(4))) }
            if rng.int(5) == 0 { ints = [] }
            a.setVarints(8, ints)
            if a.indices(of: 20).isEmpty { a.set(20, varint: 7) }
            what = "ints length \(ints.count)"
        case 3:
            let v = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 99][rng.int(16)]
            a.set(20, varint: UInt64(v))
            what = "type \(v)"
        case 4:
            if rng.int(2) == 0 { n.fields.remove(at: k); return "remove attribute \(name)" }
            n.fields.insert(n.fields[k], at: k)
            return "duplicate attribute \(name)"
        default:
            a.set(2, fixed32: [Float.nan, .infinity, -.infinity, -1, 0, 1e30, 1e-30][rng.int(7)].bitPattern)
            if rng.int(2) == 0 { a.set(4, string: ["bogus", "", "NOTSET", "SAME_LOWER"][rng.int(4)]) }
            what = "float/string values"
        }
        n.fields[k].value = .bytes(a.serialized())
        return "attribute \(name): \(what)"
    }

    /// Graph-structure edits: cycles, missing inputs, duplicated outputs, node removal and order.
    static func nodes(_ g: inout PB, _ rng: inout SplitMix64) -> String? {
        let idx = g.indices(of: 1)
        guard !idx.isEmpty else { return nil }
        let i = rng.int(idx.count)
        guard var n = g.message(at: idx[i]) else { return nil }
        let ins = n.indices(of: 1), outs = n.indices(of: 2)
        switch rng.int(9) {
        case 0:
            // Self-cycle: an output renamed to one of the node's own inputs.
            guard let o = outs.first, let inName = ins.first.flatMap({ n.string(at: $0) }) else { return nil }
            n.fields[o].value = .bytes(Array(inName.utf8))
            g.setMessage(n, at: idx[i])
            return "node \(i) output := its input '\(inName)'"
        case 1:
            // Longer cycle: an earlier node reads a later node's output.
            guard idx.count > 1 else { return nil }
            let j = rng.int(idx.count)
            guard j > i || i > 0, let later = g.message(at: idx[max(i, j)]),
                  let out = later.indices(of: 2).first.flatMap({ later.string(at: $0) }),
                  var early = g.message(at: idx[min(i, j)]) else { return nil }
            let eins = early.indices(of: 1)
            guard !eins.isEmpty else { return nil }
            early.fields[eins[rng.int(eins.count)]].value = .bytes(Array(out.utf8))
            g.setMessage(early, at: idx[min(i, j)])
            return "node \(min(i, j)) reads node \(max(i, j))'s output '\(out)'"
        case 2:
            guard !ins.isEmpty else { return nil }
            let name = names[rng.int(names.count)]
            n.fields[ins[rng.int(ins.count)]].value = .bytes(Array(name.utf8))
            g.setMessage(n, at: idx[i])
            return "node \(i) input := '\(name)'"
        case 3:
            // Duplicate an output name across nodes, or with a graph input.
            let other = rng.int(idx.count)
            guard let o = outs.first, let src = g.message(at: idx[other]) else { return nil }
            let cand = src.indices(of: 2).compactMap { src.string(at: $0) } + src.indices(of: 1).compactMap { src.string(at: $0) }
            guard !cand.isEmpty else { return nil }
            let name = cand[rng.int(cand.count)]
            n.fields[o].value = .bytes(Array(name.utf8))
            g.setMessage(n, at: idx[i])
            return "node \(i) output := '\(name)'"
        case 4:
            g.fields.remove(at: idx[i])
            return "remove node \(i)"
        case 5:
            g.fields.insert(g.fields[idx[i]], at: idx[i])
            return "duplicate node \(i)"
        case 6:
            // Reverse the node order (a topological sort must repair it).
            let nodeFields = idx.map { g.fields[$0] }
            for (k, f) in zip(idx, nodeFields.reversed()) { g.fields[k] = f }
            return "reverse node order"
        case 7:
            // Drop, add or duplicate inputs/outputs of the node.
            switch rng.int(4) {
            case 0: if let k = ins.last { n.fields.remove(at: k) }
            case 1: n.append(1, string: names[rng.int(names.count)])
            case 2: if let k = outs.last { n.fields.remove(at: k) }
            default: n.append(2, string: ["", "extra_out", "y"][rng.int(3)])
            }
            g.setMessage(n, at: idx[i])
            return "node \(i) arity edit"
        default:
            guard ins.count >= 2 else { return nil }
            let a = ins[0], b = ins[1 + rng.int(ins.count - 1)]
            n.fields.swapAt(a, b)
            g.setMessage(n, at: idx[i])
            return "node \(i) inputs swapped"
        }
    }

    /// Edits of declared graph inputs and outputs: dims, element types, names.
    static func valueInfo(_ g: inout PB, _ rng: inout SplitMix64) -> String? {
        let field = rng.int(3) == 0 ? 12 : 11
        return g.editRandom(field, &rng) { v, rng in
            switch rng.int(5) {
            case 0, 1:
                let val = value(&rng)
                let r = v.edit(2) { tp in tp.edit(1) { tt in tt.edit(2) { sh in sh.editRandom(1, &rng) { d, _ in
                    d.remove(2); d.set(1, varint: UInt64(bitPattern: val)); return "dim \(val)"
                } } } }
                return r.map { "\(field == 11 ? "input" : "output") \($0)" }
            case 2:
                let code: Int64 = [0, 1, 6, 7, 8, 9, 10, 14, 16, 99, -1][rng.int(11)]
                return v.edit(2) { tp in tp.edit(1) { tt in tt.set(1, varint: UInt64(bitPattern: code)); return "elem_type \(code)" } }
            case 3:
                let add = rng.int(2) == 0
                return v.edit(2) { tp in tp.edit(1) { tt in tt.edit(2) { sh in
                    if add { var d = PB(); d.append(1, varint: 2); sh.append(1, message: d); return "rank +1" }
                    let ds = sh.indices(of: 1)
                    guard let l = ds.last else { return nil }
                    sh.fields.remove(at: l); return "rank -1"
                } } }
            default:
                if rng.int(2) == 0 { v.remove(2); return "type removed" }
                let name = names[rng.int(names.count)]
                v.set(1, string: name)
                return "value info renamed '\(name)'"
            }
        }
    }
}

// MARK: - Protobuf wire format (just enough to edit ONNX files)

/// A protobuf message as its ordered list of fields. Sub-messages stay as bytes until edited.
struct PB {
    enum Value { case varint(UInt64), fixed64(UInt64), bytes([UInt8]), fixed32(UInt32) }
    struct Field { var number: Int; var value: Value }
    var fields: [Field] = []

    init() {}

    init?(_ bytes: [UInt8]) {
        var i = 0
        func varint() -> UInt64? {
            var r: UInt64 = 0, shift: UInt64 = 0
            while i < bytes.count {
                let b = bytes[i]; i += 1
                r |= UInt64(b & 0x7f) << shift
                if b & 0x80 == 0 { return r }
                shift += 7
                if shift >= 70 { return nil }
            }
            return nil
        }
        while i < bytes.count {
            guard let key = varint(), key >> 3 > 0, key >> 3 < 1 << 29 else { return nil }
            let num = Int(key >> 3)
            switch key & 7 {
            case 0:
                guard let v = varint() else { return nil }
                fields.append(Field(number: num, value: .varint(v)))
            case 1:
                guard i + 8 <= bytes.count else { return nil }
                var v: UInt64 = 0
                for k in 0..<8 { v |= UInt64(bytes[i + k]) << (8 * UInt64(k)) }
                i += 8
                fields.append(Field(number: num, value: .fixed64(v)))
            case 2:
                guard let len = varint(), len <= UInt64(bytes.count - i) else { return nil }
                fields.append(Field(number: num, value: .bytes(Array(bytes[i..<(i + Int(len))]))))
                i += Int(len)
            case 5:
                guard i + 4 <= bytes.count else { return nil }
                var v: UInt32 = 0
                for k in 0..<4 { v |= UInt32(bytes[i + k]) << (8 * UInt32(k)) }
                i += 4
                fields.append(Field(number: num, value: .fixed32(v)))
            default:
                return nil
            }
        }
    }

    static func varintBytes(_ v: UInt64) -> [UInt8] {
        var v = v, out: [UInt8] = []
        repeat {
            let b = UInt8(v & 0x7f)
            v >>= 7
            out.append(v == 0 ? b : b | 0x80)
        } while v != 0
        return out
    }

    func serialized() -> [UInt8] {
        var out: [UInt8] = []
        for f in fields {
            switch f.value {
            case .varint(let v): out += PB.varintBytes(UInt64(f.number << 3)); out += PB.varintBytes(v)
            case .fixed64(let v):
                out += PB.varintBytes(UInt64(f.number << 3 | 1))
                for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))) }
            case .bytes(let b): out += PB.varintBytes(UInt64(f.number << 3 | 2)); out += PB.varintBytes(UInt64(b.count)); out += b
            case .fixed32(let v):
                out += PB.varintBytes(UInt64(f.number << 3 | 5))
                for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(k)))) }
            }
        }
        return out
    }

    func indices(of number: Int) -> [Int] { fields.indices.filter { fields[$0].number == number } }

    func message(at k: Int) -> PB? {
        guard case .bytes(let b) = fields[k].value else { return nil }
        return PB(b)
    }
    func string(at k: Int) -> String? {
        guard case .bytes(let b) = fields[k].value else { return nil }
        return String(decoding: b, as: UTF8.self)
    }
    func string(_ number: Int) -> String? { indices(of: number).first.flatMap { string(at: $0) } }

    mutating func setMessage(_ m: PB, at k: Int) { fields[k].value = .bytes(m.serialized()) }

    mutating func append(_ number: Int, varint v: UInt64) { fields.append(Field(number: number, value: .varint(v))) }
    mutating func append(_ number: Int, fixed32 v: UInt32) { fields.append(Field(number: number, value: .fixed32(v))) }
    mutating func append(_ number: Int, bytes b: [UInt8]) { fields.append(Field(number: number, value: .bytes(b))) }
    mutating func append(_ number: Int, string s: String) { append(number, bytes: Array(s.utf8)) }
    mutating func append(_ number: Int, message m: PB) { append(number, bytes: m.serialized()) }

    mutating func remove(_ number: Int) { fields.removeAll { $0.number == number } }

    /// Replaces every occurrence of field `number` by one value (in place of the first).
    mutating func set(_ number: Int, _ value: Value) {
        if let k = indices(of: number).first {
            fields[k].value = value
            fields = fields.enumerated().filter { $0.offset == k || $0.element.number != number }.map(\.element)
        } else {
            fields.append(Field(number: number, value: value))
        }
    }
    mutating func set(_ number: Int, varint v: UInt64) { set(number, .varint(v)) }
    mutating func set(_ number: Int, fixed32 v: UInt32) { set(number, .fixed32(v)) }
    mutating func set(_ number: Int, string s: String) { set(number, .bytes(Array(s.utf8))) }

    /// A repeated varint field, packed or not.
    func varints(_ number: Int) -> [UInt64] {
        var out: [UInt64] = []
        for f in fields where f.number == number {
            switch f.value {
            case .varint(let v): out.append(v)
            case .bytes(let b):
                var i = 0
                while i < b.count {
                    var r: UInt64 = 0, shift: UInt64 = 0
                    while i < b.count {
                        let x = b[i]; i += 1
                        r |= UInt64(x & 0x7f) << shift
                        shift += 7
                        if x & 0x80 == 0 { break }
                    }
                    out.append(r)
                }
            default: break
            }
        }
        return out
    }
    /// Rewrites a repeated varint field (unpacked), keeping its position.
    mutating func setVarints(_ number: Int, _ values: [UInt64]) {
        let at = indices(of: number).first ?? fields.count
        let before = fields[..<at].filter { $0.number != number }
        let after = fields[at...].filter { $0.number != number }
        fields = Array(before) + values.map { Field(number: number, value: .varint($0)) } + Array(after)
    }

    /// Edits the first sub-message `number` in place; nil (and no change) when absent or when `f` declines.
    mutating func edit(_ number: Int, _ f: (inout PB) -> String?) -> String? {
        guard let k = indices(of: number).first, var m = message(at: k), let d = f(&m) else { return nil }
        setMessage(m, at: k)
        return d
    }
    mutating func edit(_ number: Int, _ f: (inout PB) -> Bool) -> Bool {
        edit(number) { m -> String? in f(&m) ? "" : nil } != nil
    }
    /// Edits a random occurrence of sub-message `number`.
    mutating func editRandom(_ number: Int, _ rng: inout SplitMix64, _ f: (inout PB, inout SplitMix64) -> String?) -> String? {
        let idx = indices(of: number)
        guard !idx.isEmpty else { return nil }
        let k = idx[rng.int(idx.count)]
        guard var m = message(at: k), let d = f(&m, &rng) else { return nil }
        setMessage(m, at: k)
        return d
    }
}
