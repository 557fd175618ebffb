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
            (H and W in [N, 3, H, W]) needs --input-npy. \
            With --method, one explanation of the first batch item is timed instead, with the \
            options of `loupe explain`; a channels-last (NHWC) model then takes an NCHW input, \
            as in explain.

            Example:
              loupe bench resnet50.onnx --batch 1 --runs 20 --threads 2 --json
            """)

    @Argument(help: "The model file (.onnx, .h5 or .keras).")
    var model: String

    @Option(parsing: .unconditional, help: "Batch size (replaces the first dimension of the input).")
    var batch: Int = 1

    @Option(parsing: .unconditional, help: "Number of timed runs.")
    var runs: Int = 10

    @Option(parsing: .unconditional, help: "Number of untimed warm-up runs.")
    var warmup: Int = 2

    @Option(name: .customLong("input-npy"), help: "Use this .npy tensor as the input instead of random data.")
    var inputNpy: String?

    @Option(help: ArgumentHelp("Time an explanation method instead of the forward pass: \(Method.names()) (batch 1; target: --target, else the top class)."))
    var method: String?

    @Option(name: .customLong("occlusion-batch"), parsing: .unconditional, help: "Occluded, masked or ablated images per forward pass, for --method occlusion, score-cam or ablation-cam.")
    var occlusionBatch: Int = 16

    @Flag(help: "Print {\"median_ms\", \"min_ms\", \"max_ms\", \"runs\", \"batch\", \"threads\", \"blas_kernels\", \"isa\", \"conv_kernels\", \"winograd\"} as JSON.")
    var json = false

    @OptionGroup var explanation: ExplanationOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative") }
        guard occlusionBatch >= 1 else { throw ValidationError("--occlusion-batch must be at least 1") }
        if let method { _ = try Method.parse(method, flag: "--method") }
    }

    struct Result: Encodable {
        var median_ms: Double
        var min_ms: Double
        var max_ms: Double
        var runs: Int
        var batch: Int
        var threads: Int
        /// OpenBLAS's kernel family (LoupeTensor/OpenBLAS.swift), e.g. "SkylakeX".
        var blas_kernels: String
        /// The ISA path of the fast kernels (LoupeTensor/ISA.swift): avx512, avx2 or baseline.
        var isa: String
        /// What runs the convolutions: "onednn:<its ISA>", e.g. "onednn:avx512_core_amx", or "blas".
        var conv_kernels: String
        /// Whether 3x3 stride-1 convolutions may run by Winograd (false with --exact).
        var winograd: Bool
    }

    func run() throws {
        global.apply()
        try runReportingErrors {
            let g = try loadModel(model, config: global.config)
            let (pass, shownBatch) = try makePass(g)
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
                           batch: shownBatch, threads: Threads.count, blas_kernels: OpenBLAS.coreName,
                           isa: try ISAPath.current().rawValue,
                           conv_kernels: LoupeConfiguration.current.convolutions == .blas ? "blas" : "onednn:" + ISAPath.kernelISA,
                           winograd: LoupeConfiguration.current.winograd)
            if json {
                try printJSON(r)
            } else {
                print(String(format: "%@: median %.2f ms, min %.2f ms, max %.2f ms (%d runs, batch %d, %d threads, ISA path %@, convolutions %@, OpenBLAS %@ kernels)",
                             model, r.median_ms, r.min_ms, r.max_ms, r.runs, r.batch, r.threads, r.isa, r.conv_kernels, r.blas_kernels))
            }
        }
    }
}

extension Bench {
    /// The work one timed run does, a forward pass or one explanation of batch item 0, and
    /// the batch it runs.
    func makePass(_ g: Graph) throws -> (() throws -> Void, Int) {
        guard let method else {
            let feeds = try inputs(for: g)
            let exec = try makeExecutor(g, path: model)
            return ({ _ = try exec.run(feeds) }, feeds.values.first?.shape.first ?? batch)
        }
        let m = try Method.parse(method, flag: "--method")[0]
        let em: ExplainableModel
        do { em = try ExplainableModel(graph: g) } catch let e as LoupeError { throw e.context(model) }
        // The explainable graph's input: NCHW even for a channels-last model.
        var x = try inputs(for: em.graph)[em.inputName]!
        if x.shape.first ?? 1 > 1 { x = Tensor(shape: [1] + x.shape.dropFirst(), floats: Array(x.floats[0..<(x.count / x.shape[0])])) }
        var target: Int?
        if let spec = explanation.target { target = try em.resolveTarget(spec, logits: try em.forward(x).logits, labels: []) }
        let options = try explanation.options(target: target, occlusionBatch: occlusionBatch, methods: [m], graph: em.graph)
        return ({ _ = try m.run(on: em, input: x, options: options) }, 1)
    }

    /// The --input-npy tensor, or random inputs (uniform in [0, 1), fixed seed) for `g`.
    func inputs(for g: Graph) throws -> [String: Tensor] {
        var feeds: [String: Tensor] = [:]
        if let inputNpy {
            guard g.inputs.count == 1 else {
                throw LoupeError(.invalidArgument, "--input-npy needs a model with one input; this one has \(g.inputs.count)")
            }
            feeds[g.inputs[0].name] = try NPY.read(path: inputNpy)
            return feeds
        }
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
        return feeds
    }
}
