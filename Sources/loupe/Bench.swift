import ArgumentParser
import Foundation
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
            unless --input-npy gives one; symbolic dimensions other than the batch are 1.

            Example:
              loupe bench resnet50.onnx --batch 1 --runs 20 --threads 2 --json
            """)

    @Argument(help: "The model file (.onnx).")
    var model: String

    @Option(help: "Batch size (replaces the first dimension of the input).")
    var batch: Int = 1

    @Option(help: "Number of timed runs.")
    var runs: Int = 10

    @Option(help: "Number of untimed warm-up runs.")
    var warmup: Int = 2

    @Option(name: .customLong("input-npy"), help: "Use this .npy tensor as the input instead of random data.")
    var inputNpy: String?

    @Flag(help: "Print {\"median_ms\", \"min_ms\", \"max_ms\", \"runs\", \"batch\", \"threads\"} as JSON.")
    var json = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative") }
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
            let g = try loadModel(model)
            var feeds: [String: Tensor] = [:]
            if let inputNpy {
                guard g.inputs.count == 1 else {
                    throw LoupeError(.invalidArgument, "--input-npy needs a model with one input; this one has \(g.inputs.count)")
                }
                feeds[g.inputs[0].name] = try NPY.read(path: inputNpy)
            } else {
                var rng = SplitMix64(seed: 0x5eed)
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
            let progress = Progress(label: "bench")
            for i in 0..<warmup {
                _ = try exec.run(feeds)
                progress.update(i + 1, warmup + runs)
            }
            var times: [Double] = []
            for i in 0..<runs {
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = try exec.run(feeds)
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

/// A small deterministic generator for benchmark inputs (SplitMix64).
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextFloat() -> Float { Float(next() >> 40) / Float(1 << 24) }
}
