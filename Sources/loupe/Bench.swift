import ArgumentParser
import Foundation
import LoupeExplain
import LoupeFormats
import LoupeGraph
import LoupeTensor

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the forward pass of a model on this machine.",
        discussion: """
            Loads the model once, builds the execution plan, runs --warmup untimed passes and \
            then --runs timed passes of the forward pass alone, and prints the median, minimum \
            and maximum in milliseconds. The input is random (uniform in [0, 1), fixed seed) \
            unless --input-npy gives one; a model with dynamic sizes other than the batch \
            (H and W in [N, 3, H, W]) needs --input-npy.

            Example:
              loupe bench resnet50.onnx --batch 1 --runs 20 --threads 2 --json
            """)

    @Argument(help: "The model file (.onnx, .h5 or .keras).")
    var model: String

    @Option(help: "Batch size (replaces the first dimension of the input).")
    var batch: Int = 1

    @Option(help: "Number of timed runs.")
    var runs: Int = 10

    @Option(help: "Number of untimed warm-up runs.")
    var warmup: Int = 2

    @Option(name: .customLong("input-npy"), help: "Use this .npy tensor as the input instead of random data.")
    var inputNpy: String?

    @Option(help: "Time an explanation method instead of the forward pass: saliency, deconvnet, guided-backprop, cam, grad-cam, guided-grad-cam, occlusion or activations (target: the top class; batch 1).")
    var method: String?

    @Option(help: "Layer for --method grad-cam, guided-grad-cam and activations (default: the last spatial layer).")
    var layer: String?

    @Option(help: "Occlusion window as HxW, for --method occlusion.")
    var window: String = "16x16"

    @Option(help: "Occlusion stride as HxW, for --method occlusion.")
    var stride: String = "8x8"

    @Option(name: .customLong("occlusion-batch"), help: "Occluded images per forward pass, for --method occlusion.")
    var occlusionBatch: Int = 16

    @Flag(help: "Print {\"median_ms\", \"min_ms\", \"max_ms\", \"runs\", \"batch\", \"threads\"} as JSON.")
    var json = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative") }
        _ = try parseHxW(window, "--window")
        _ = try parseHxW(stride, "--stride")
        if let method, Method(rawValue: method) == nil {
            throw ValidationError("--method must be one of \(Method.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    struct Result: Encodable {
        var median_ms: Double
        var min_ms: Double
        var max_ms: Double
        var runs: Int
        var batch: Int
        var threads: Int
    }

    func run() throws {
        global.apply()
        try runReportingErrors {
            let g = try loadModel(model, config: global.config)
            var feeds: [String: Tensor] = [:]
            if let inputNpy {
                guard g.inputs.count == 1 else {
                    throw LoupeError(.invalidArgument, "--input-npy needs a model with one input; this one has \(g.inputs.count)")
                }
                feeds[g.inputs[0].name] = try NPY.read(path: inputNpy)
            } else {
                var rng = SplitMix64(seed: 0x5eed)
                let dynamic = g.dynamicDimensions()
                guard dynamic.isEmpty else {
                    throw LoupeError(.invalidArgument, "\(g.describe(dynamic)); random input needs concrete sizes: give an input tensor with --input-npy")
                }
                for (name, t) in try ModelFile.inputTypes(g) {
                    var shape = t.shape
                    if !shape.isEmpty { shape[0] = batch }
                    if t.dtype.isFloatingPoint {
                        feeds[name] = try Tensor(shape: shape) { buf in
                            for i in 0..<buf.count { buf[i] = rng.nextFloat() }
                        }
                    } else {
                        feeds[name] = try Tensor(zeros: shape, dtype: t.dtype)
                    }
                }
            }
            let exec = try makeExecutor(g, path: model)
            let pass = try makePass(g, exec, feeds)
            let progress = Progress(label: "bench")
            for i in 0..<warmup {
                try pass()
                progress.update(i + 1, warmup + runs)
            }
            var times: [Double] = []
            for i in 0..<runs {
                let t0 = DispatchTime.now().uptimeNanoseconds
                try pass()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
                progress.update(warmup + i + 1, warmup + runs)
            }
            let sorted = times.sorted()
            let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
            let r = Result(median_ms: median, min_ms: sorted.first!, max_ms: sorted.last!, runs: runs,
                           batch: feeds.values.first?.shape.first ?? batch, threads: Threads.count)
            if json {
                try printJSON(r)
            } else {
                print(String(format: "%@: median %.2f ms, min %.2f ms, max %.2f ms (%d runs, batch %d, %d threads)",
                             model, r.median_ms, r.min_ms, r.max_ms, r.runs, r.batch, r.threads))
            }
        }
    }
}

extension Bench {
    /// The work one timed run does: a forward pass, or one explanation of batch item 0.
    func makePass(_ g: Graph, _ exec: Executor, _ feeds: [String: Tensor]) throws -> () throws -> Void {
        guard let method, let m = Method(rawValue: method) else {
            return { _ = try exec.run(feeds) }
        }
        let em: ExplainableModel
        do { em = try ExplainableModel(graph: g) } catch let e as LoupeError { throw e.context(model) }
        var x = feeds[em.inputName]!
        if x.shape.first ?? 1 > 1 { x = Tensor(shape: [1] + x.shape.dropFirst(), floats: Array(x.floats[0..<(x.count / x.shape[0])])) }
        let request = GradientRequest()
        var occ = Occlusion.Settings()
        occ.window = try parseHxW(window, "--window")
        occ.stride = try parseHxW(stride, "--stride")
        occ.batch = occlusionBatch
        return {
            switch m {
            case .saliency: _ = try Saliency.explain(em, x, request)
            case .deconvnet: _ = try Deconvnet.explain(em, x, request)
            case .guidedBackprop: _ = try GuidedBackprop.explain(em, x, request)
            case .cam: _ = try CAM.explain(em, x, request)
            case .gradCAM: _ = try GradCAM.explain(em, x, request, layer: layer)
            case .guidedGradCAM: _ = try GuidedGradCAM.explain(em, x, request, layer: layer)
            case .occlusion: _ = try Occlusion.explain(em, x, request, settings: occ)
            case .activations: _ = try ActivationMaps.explain(em, x, layer: layer)
            }
        }
    }
}
