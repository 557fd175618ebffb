import Foundation
import LoupeFormats
import LoupeGraph
import LoupeTestSupport
import LoupeTensor

/// Runs the ONNX backend test vectors in `../shared/conformance` through the importer and
/// executor. See that folder's README for the layout and the tolerances.
enum Conformance {
    enum Outcome: Equatable {
        case passed
        case failed(String)
        case unsupported(String)
    }

    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var root: URL {
        if let d = ProcessInfo.processInfo.environment["LOUPE_CONFORMANCE_DIR"] { return URL(fileURLWithPath: d) }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/conformance")
    }

    static let suites = ["onnx-node", "pytorch-converted", "pytorch-operator"]

    /// Corrected expected outputs for cases whose shipped data newer ONNX releases and
    /// onnxruntime both disagree with (docs/conformance.md lists them).
    static let errata = packageRoot.appendingPathComponent("Tests/LoupeGraphTests/Fixtures/conformance-errata")

    /// Every case as "suite/test_name", sorted.
    static func allCases() throws -> [String] {
        var cases: [String] = []
        let fm = FileManager.default
        for s in suites {
            let dir = root.appendingPathComponent(s)
            for c in try fm.contentsOfDirectory(atPath: dir.path) where c.hasPrefix("test_") {
                cases.append("\(s)/\(c)")
            }
        }
        for f in try fm.contentsOfDirectory(atPath: root.appendingPathComponent("onnx-light").path)
        where f.hasSuffix(".onnx") {
            cases.append("onnx-light/\(f.dropLast(5))")
        }
        return cases.sorted()
    }

    /// The op types a case's model uses.
    static func opTypes(_ id: String) -> Set<String> {
        guard let g = try? ONNXImporter.load(path: modelPath(id)) else { return [] }
        return Set(g.nodes.map(\.opType))
    }

    static func modelPath(_ id: String) -> String {
        if id.hasPrefix("onnx-light/") { return root.appendingPathComponent(id + ".onnx").path }
        return root.appendingPathComponent(id).appendingPathComponent("model.onnx").path
    }

    static func run(_ id: String) -> Outcome {
        do {
            let graph = try ONNXImporter.load(path: modelPath(id))
            let exec = try Executor(graph: graph)
            for (inputs, expected) in try dataSets(id, graph: graph) {
                var feeds: [String: Tensor] = [:]
                guard inputs.count == graph.inputs.count else {
                    return .failed("\(inputs.count) input files for \(graph.inputs.count) graph inputs")
                }
                for (info, t) in zip(graph.inputs, inputs) { feeds[info.name] = t }
                let logits = graph.outputs.compactMap { SoftmaxConditioning.softmaxInput(of: $0.name, in: graph) }
                let out = try exec.run(feeds, keep: Set(logits))
                for (info, want) in zip(graph.outputs, expected) {
                    guard let got = out[info.name] else { return .failed("output '\(info.name)' missing") }
                    guard let why = compare(got, want) else { continue }
                    // An ill-conditioned softmax (logits ~1e10 in the light models) that
                    // misses the expected output is judged by its logits against the float64
                    // evaluation, relative to their scale (SoftmaxConditioning).
                    if let z = SoftmaxConditioning.softmaxInput(of: info.name, in: graph), let zt = out[z],
                       !SoftmaxConditioning.isReproducible(logits: zt, tolerance: 1e-3) {
                        let err = try SoftmaxConditioning.relativeErrorAgainstFloat64(graph, feeds: feeds, tensor: z, float32: zt)
                        if !(err <= 1e-5) { return .failed("output '\(info.name)': \(why); the softmax is ill-conditioned and its input '\(z)' is \(err) from float64, relative to its scale") }
                        print("conformance: \(id) output '\(info.name)': \(why), but the softmax is ill-conditioned (max |logit| \(zt.floats.map(abs).max() ?? 0)); its input is \(err) from float64 relative to its scale")
                        continue
                    }
                    return .failed("output '\(info.name)': \(why)")
                }
            }
            return .passed
        } catch let e as LoupeError {
            return e.kind == .unsupported ? .unsupported(e.message) : .failed(e.message)
        } catch {
            return .failed("\(error)")
        }
    }

    static func dataSets(_ id: String, graph: Graph) throws -> [([Tensor], [Tensor])] {
        if id.hasPrefix("onnx-light/") {
            guard let input = graph.inputs.first, let dims = input.dims else {
                throw LoupeError.invalid("light model without a declared input")
            }
            let shape = dims.map { $0.value ?? 1 }
            let n = shape.reduce(1, *)
            let x = Tensor(shape: shape, floats: (0..<n).map { Float($0) / Float(n) })
            let y = try ONNXImporter.loadTensor(path: root.appendingPathComponent(id + "_output_0.pb").path)
            return [([x], [y])]
        }
        let dir = root.appendingPathComponent(id)
        let fm = FileManager.default
        var sets: [([Tensor], [Tensor])] = []
        for ds in try fm.contentsOfDirectory(atPath: dir.path).sorted() where ds.hasPrefix("test_data_set_") {
            let d = dir.appendingPathComponent(ds)
            func load(_ prefix: String) throws -> [Tensor] {
                var ts: [Tensor] = []
                var i = 0
                while fm.fileExists(atPath: d.appendingPathComponent("\(prefix)_\(i).pb").path) {
                    ts.append(try ONNXImporter.loadTensor(path: d.appendingPathComponent("\(prefix)_\(i).pb").path))
                    i += 1
                }
                return ts
            }
            var expected = try load("output")
            // A corrected expected output (see Scripts/fixtures/make-conformance-errata.py) replaces the shipped one.
            let erratum = errata.appendingPathComponent(id).appendingPathComponent("output_0.pb")
            if ds == "test_data_set_0", fm.fileExists(atPath: erratum.path) {
                expected[0] = try ONNXImporter.loadTensor(path: erratum.path)
            }
            sets.append((try load("input"), expected))
        }
        return sets
    }

    /// `|actual - expected| <= atol + rtol * |expected|`, rtol 1e-3, atol 1e-7 (the ONNX runner's).
    static func compare(_ got: Tensor, _ want: Tensor, rtol: Float = 1e-3, atol: Float = 1e-7) -> String? {
        guard got.shape == want.shape else { return "shape \(describe(got.shape)), expected \(describe(want.shape))" }
        if want.isFloat {
            guard got.isFloat else { return "dtype \(got.dtype.name), expected \(want.dtype.name)" }
            var worst = 0, worstErr: Float = 0
            for i in 0..<want.count {
                let a = got.floats[i], b = want.floats[i]
                if a.isNaN && b.isNaN { continue }
                if a == b { continue }
                let err = abs(a - b)
                if !(err <= atol + rtol * abs(b)) && (err > worstErr || err.isNaN) { worst = i; worstErr = err.isNaN ? .infinity : err }
            }
            if worstErr > 0 {
                return "max violation at \(worst): got \(got.floats[worst]), expected \(want.floats[worst])"
            }
            return nil
        }
        guard !got.isFloat else { return "dtype \(got.dtype.name), expected \(want.dtype.name)" }
        if let i = (0..<want.count).first(where: { got.ints[$0] != want.ints[$0] }) {
            return "element \(i): got \(got.ints[i]), expected \(want.ints[i])"
        }
        return nil
    }
}
