import ArgumentParser
import Dispatch
import Foundation
import LoupeFormats
import LoupeGraph
import LoupeSurgery
import LoupeTensor

struct Features: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compute a feature vector per image and write them to an HDF5 file; merge the files of a sharded run.",
        discussion: """
            `loupe features MODEL IMAGES... -o feats.h5` is short for `loupe features extract ...`. \
            The file format is described in docs/features.md.

            Examples:
              loupe features resnet18.onnx photos/ -o feats.h5
              loupe features model.onnx train/ --labels-from-folders --shard 0/4 -o part0.h5
              loupe features merge part*.h5 -o all.h5
            """,
        subcommands: [FeaturesExtract.self, FeaturesMerge.self],
        defaultSubcommand: FeaturesExtract.self
    )
}

struct FeaturesExtract: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Compute a feature vector per image and write them to an HDF5 file.",
        discussion: """
            IMAGES are files or folders; a folder is searched recursively and its PNG and JPEG \
            files (.png, .jpg, .jpeg) are taken in sorted order; its other files are skipped \
            and counted. Images that cannot be read are listed on stderr and skipped (--strict \
            stops at the first).

            The features are, by default, the penultimate feature vector: the input of the \
            last fully connected layer, what `loupe surgery strip-head` makes the output. \
            --layer NAME takes any layer (as `loupe inspect` lists it) or tensor instead; a \
            spatial map [N, C, H, W] is averaged over H and W unless --pool says otherwise \
            (--pool none keeps all C·H·W values). Images run --batch at a time while the next \
            batch is decoded, and the rate is reported on stderr at the end.

            The output, readable by h5py, holds the datasets features (N x D float32), paths \
            (the image paths as they were reached from the arguments), labels (int32, -1 when \
            unknown), index (each row's 0-based position in the whole image list) and, with \
            --labels-from-folders, label_names; its attributes name the model (model_sha256, \
            model_path), the layer, the pooling and the preprocessing (JSON).

            Rows are written batch by batch. An interrupted run continues where it stopped \
            when run again with the same arguments; a file of another run (another model, \
            layer, preprocessing, shard or image list) is refused, naming what differs, and \
            replaced only with --force.

            --shard I/N takes every N-th image from the I-th (0-based), so that N jobs cover a \
            large set; `loupe features merge` joins their files in the original order.

            Examples:
              loupe features resnet18.onnx photos/ -o feats.h5
              loupe features model.onnx train/ --labels-from-folders --layer /layer4/Relu --pool max -o l4.h5
              loupe features model.onnx train/ --shard 2/8 -o part2.h5
            """)

    @Argument(help: "The model file (.onnx, .h5 or .keras).")
    var model: String

    @Argument(help: "Image files (PNG or JPEG) or folders of them.")
    var images: [String] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("The HDF5 file to write.", valueName: "feats.h5"))
    var output: String

    @Option(help: "Take the features from this layer (node name) or tensor instead of the penultimate feature vector.")
    var layer: String?

    @Option(help: "Spatial pooling of a 4-D layer [N, C, H, W]: avg, max or none (keep all C·H·W values). Default: avg for a 4-D layer, none otherwise.")
    var pool: String?

    @Option(parsing: .unconditional, help: "Images per forward pass.")
    var batch: Int = 16

    @Option(help: ArgumentHelp("Process only every N-th image from the I-th (0-based), for one job of N.", valueName: "I/N"))
    var shard: String?

    @Flag(name: .customLong("labels-from-folders"), help: "Label each image by its folder: its parent folder's path relative to the folder argument (the labels dataset indexes the sorted label_names; -1 for images given by name or lying directly in a folder argument).")
    var labelsFromFolders = false

    @Flag(help: "Stop at the first image that cannot be read instead of listing and skipping it.")
    var strict = false

    @Flag(help: "Replace the output file if it exists, instead of continuing it.")
    var force = false

    @Option(name: .customLong("stop-after"), parsing: .unconditional, help: .hidden)
    var stopAfter: Int?

    @OptionGroup var image: ImageOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image file or folder") }
        if let pool, Cut.Pooling(rawValue: pool) == nil { throw ValidationError("--pool must be avg, max or none; got '\(pool)'") }
        guard batch >= 1, batch <= 65536 else { throw ValidationError("--batch must be between 1 and 65536, got \(batch)") }
        if let shard {
            do { _ = try FeatureFile.Shard(parsing: shard) } catch let e as LoupeError { throw ValidationError("--shard: \(e.message)") }
        }
        if image.inputNpy != nil { throw ValidationError("--input-npy does not apply to features: give image files or folders") }
        if let stopAfter, stopAfter < 1 { throw ValidationError("--stop-after must be positive") }
    }

    func run() throws {
        global.apply()
        try runReportingErrors {
            let fg = try FeatureExtractor.graph(model: model, config: global.config, layer: layer,
                                                pool: pool.map { Cut.Pooling(rawValue: $0)! })
            let (prep, height, width) = try image.resolve(for: fg.graph.inputs[0])

            let collection = try ImageCollection.gather(images, labelsFromFolders: labelsFromFolders)
            for (folder, n) in collection.skipped {
                note("skipped \(n) file\(n == 1 ? "" : "s") under \(folder) that \(n == 1 ? "is" : "are") not PNG or JPEG (by extension)")
            }
            guard !collection.paths.isEmpty else {
                throw LoupeError(.invalidArgument, "no PNG or JPEG images in \(images.joined(separator: ", "))")
            }
            let shardSpec = try FeatureFile.Shard(parsing: shard ?? "0/1")
            let header = FeatureFile.Header(
                modelSHA256: try SHA256.hex(ofFile: model), modelPath: model, layer: fg.layer, pool: fg.pool.rawValue,
                preprocess: try FeatureExtractor.preprocessJSON(prep, height: height, width: width),
                shardIndex: shardSpec.index, shardCount: shardSpec.count, totalImages: collection.paths.count,
                imagesSHA256: FeatureFile.listHash(paths: collection.paths, labelNames: collection.labelNames),
                labelNames: labelsFromFolders ? collection.classes : nil)

            let extractor = try FeatureExtractor(model: model, featureGraph: fg, preprocessing: prep, height: height, width: width)
            let dimension = extractor.dimension
            let writer: FeatureWriter
            do {
                writer = try FeatureWriter(path: output, header: header, dimension: dimension, startOver: force)
            } catch let e as LoupeError where e.message.hasSuffix(FeatureFile.startOverHint) {
                throw LoupeError(e.kind, String(e.message.dropLast(FeatureFile.startOverHint.count)) + "pass --force to start over")
            }

            let positions = shardSpec.positions(of: collection.paths.count)
            if writer.processed >= positions.count {
                print("\(output) is complete: \(writer.rows) rows of \(dimension) features of '\(fg.layer)' (shard \(header.shard)); nothing to do")
                return
            }
            if writer.resumed { note("continuing \(output) after \(writer.processed) of \(positions.count) images") }
            let labels = collection.labelIndices
            let batchSize = fg.batchable ? batch : 1
            if !fg.batchable && batch > 1 { note("the model's batch is fixed at 1; running one image at a time") }

            // Decoding of the next batch runs on another thread while the current one computes.
            let decodeQueue = DispatchQueue(label: "loupe.features.decode")
            func load(from start: Int) -> () -> DecodedBatch {
                let end = min(start + batchSize, positions.count)
                let box = DecodedBatchBox()
                let ready = DispatchSemaphore(value: 0)
                let options = image
                let paths = positions[start..<end].map { collection.paths[$0] }
                decodeQueue.async {
                    box.value = DecodedBatch.decode(paths: paths, positions: Array(positions[start..<end]), end: end,
                                                    options: options, preprocessing: prep, height: height, width: width)
                    ready.signal()
                }
                return { ready.wait(); return box.value! }
            }

            let progress = Progress(label: "features")
            let started = DispatchTime.now().uptimeNanoseconds, startedCPU = processCPUSeconds()
            let first = writer.processed
            var computed = 0, skipped = 0
            var next: (() -> DecodedBatch)? = load(from: first)
            while let wait = next {
                let b = wait()
                let stop = stopAfter.map { b.end - first >= $0 } ?? false
                next = b.end < positions.count && !stop ? load(from: b.end) : nil
                for (path, message) in b.failures {
                    if strict { throw LoupeError(.invalidArgument, "\(message) (--strict stops here; without it unreadable images are skipped)").context("image '\(path)'") }
                    note("skipped unreadable image '\(path)': \(message)")
                }
                skipped += b.failures.count
                var features: [Float] = []
                if !b.paths.isEmpty {
                    features = try extractor.run(pixels: b.pixels, count: b.paths.count)
                }
                try writer.append(features: features, paths: b.paths, labels: b.positions.map { labels[$0] },
                                  index: b.positions.map { Int64($0) }, processed: b.end)
                computed += b.paths.count
                progress.update(b.end, positions.count)
                if stop {
                    note("stopped after \(b.end) of \(positions.count) images (--stop-after); run again without it to continue")
                    break
                }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            // CPU seconds (all threads, decoding included) give the rate per core on a shared machine.
            let cpu = processCPUSeconds() - startedCPU
            note(String(format: "%d images in %.2f s: %.1f images/s (batch %d, %d threads; %.2f CPU-s, %.1f images per CPU-s)",
                        computed, seconds, Double(computed) / max(seconds, 1e-9), batchSize, Threads.count, cpu, Double(computed) / max(cpu, 1e-9)))
            if skipped > 0 { note("skipped \(skipped) unreadable image\(skipped == 1 ? "" : "s") (listed above)") }
            print("wrote \(output): \(writer.rows) rows of \(dimension) features of '\(fg.layer)'\(fg.pool == .none ? "" : " (\(fg.pool.rawValue)-pooled)"), shard \(header.shard), \(writer.processed) of \(positions.count) images processed")
        }
    }
}

/// One batch of decoded, preprocessed images: the pixels of the readable ones, concatenated,
/// their paths and list positions, the unreadable ones with the reason, and the shard
/// position after the batch.
struct DecodedBatch {
    var pixels: [Float] = []
    var paths: [String] = []
    var positions: [Int] = []
    var failures: [(String, String)] = []
    var end: Int

    static func decode(paths: [String], positions: [Int], end: Int, options: ImageOptions,
                       preprocessing: Preprocessing, height: Int, width: Int) -> DecodedBatch {
        var b = DecodedBatch(end: end)
        for (path, position) in zip(paths, positions) {
            do {
                let t = try preprocessing.tensor(from: try options.readImage(path), height: height, width: width)
                b.pixels += t.floats
                b.paths.append(path)
                b.positions.append(position)
            } catch let e as LoupeError {
                // ImageIO names the file; the listing names it once.
                let prefix = "image '\(path)': "
                b.failures.append((path, e.message.hasPrefix(prefix) ? String(e.message.dropFirst(prefix.count)) : e.message))
            } catch {
                b.failures.append((path, "\(error)"))
            }
        }
        return b
    }
}

final class DecodedBatchBox: @unchecked Sendable {
    var value: DecodedBatch?
}

/// User plus system CPU time of the process so far, over all its threads.
private func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
