import ArgumentParser
import Foundation
import LoupeAnalysis
import LoupeFormats
import LoupeGraph
import LoupeRender
import LoupeSurgery
import LoupeTensor

struct Atlas: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write one self-contained interactive HTML page about a set of images: a t-SNE map of their features, nearest neighbours, k-NN accuracy per class and the top patches of the last spatial layers.",
        discussion: """
            The model runs once over the images (IMAGES are files or folders, as for `loupe \
            features`), giving each image its feature vector (by default the penultimate one; \
            --layer takes another, average-pooled) and its top class. The page shows a t-SNE \
            map of the features with the images' thumbnails (hover one for the image, its \
            label and the prediction; click it for its -k nearest neighbours in feature space \
            by --metric, exact as `loupe neighbors` finds them), the leave-one-out k-NN accuracy per class when the images \
            have labels (--labels-from-folders), and for the last --patch-layers spatial \
            layers the image patches that excite their most active channels most.

            The page needs nothing else to open: thumbnails are embedded as PNG, script and \
            style are inline, and its Content-Security-Policy forbids any network access. \
            docs/atlas.md describes it.

            Examples:
              loupe atlas shapes-gap.onnx shapes/ --labels-from-folders --labels labels.txt --preprocess none -o atlas.html
              loupe atlas resnet18.onnx photos/ -k 8 --perplexity 20 -o atlas.html --force
            """)

    @Argument(help: "The model file (.onnx, .h5 or .keras).")
    var model: String

    @Argument(help: "Image files (PNG or JPEG) or folders of them (searched recursively).")
    var images: [String] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the HTML page.", valueName: "atlas.html"))
    var output: String

    @Option(help: "A text file with one class name per line, in class-index order, for the predictions.")
    var labels: String?

    @Option(help: "Take the features from this layer (node name) or tensor instead of the penultimate feature vector; a 4-D layer is average-pooled.")
    var layer: String?

    @Option(parsing: .unconditional, help: "The t-SNE perplexity (about the number of close neighbours each point keeps).")
    var perplexity: Double = 30

    @Option(name: .short, parsing: .unconditional, help: "How many nearest neighbours to list per image and to vote in the k-NN accuracy.")
    var k: Int = 5

    @Option(help: "The feature distance of the neighbours and the k-NN accuracy: cosine (1 - cos) or l2 (Euclidean), as in `loupe neighbors`.")
    var metric: String = "cosine"

    @Option(name: .customLong("patch-layers"), parsing: .unconditional, help: "Show top patches for this many of the last spatial layers (0: none).")
    var patchLayers: Int = 3

    @Flag(name: .customLong("labels-from-folders"), help: "Label each image by its folder (its parent folder's path relative to the folder argument), for the colours and the k-NN accuracy.")
    var labelsFromFolders = false

    @Option(parsing: .unconditional, help: "Thumbnail size in pixels (longer side) embedded per image.")
    var thumbnail: Int = 48

    @Option(parsing: .unconditional, help: "Images per forward pass.")
    var batch: Int = 16

    @Option(help: "Random seed of the t-SNE.")
    var seed: UInt64 = 0

    @Flag(help: "Overwrite the page if it exists.")
    var force = false

    @OptionGroup var image: ImageOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image file or folder") }
        guard k >= 1 else { throw ValidationError("-k must be at least 1, got \(k)") }
        guard DistanceMetric(rawValue: metric) != nil else { throw ValidationError("--metric must be cosine or l2, got '\(metric)'") }
        guard perplexity > 0, perplexity.isFinite else { throw ValidationError("--perplexity must be a positive number, got \(perplexity)") }
        guard (0...32).contains(patchLayers) else { throw ValidationError("--patch-layers must be between 0 and 32, got \(patchLayers)") }
        guard (8...256).contains(thumbnail) else { throw ValidationError("--thumbnail must be between 8 and 256 pixels, got \(thumbnail)") }
        guard (1...65536).contains(batch) else { throw ValidationError("--batch must be between 1 and 65536, got \(batch)") }
        if image.inputNpy != nil { throw ValidationError("--input-npy does not apply to atlas: give image files or folders") }
    }

    func run() throws {
        global.apply()
        try runReportingErrors {
            // Refuse early, before minutes of work.
            try checkWritable(output, force: force)
            try OutputFile.checkFolder(output, as: "atlas page")
            let started = Date()
            let g = try loadModel(model, config: global.config)
            guard g.inputs.count == 1 else {
                throw LoupeError(.invalidArgument, "atlas needs a model with exactly one input; this one has \(g.inputs.count) (\(g.inputs.map(\.name).joined(separator: ", ")))")
            }
            let classNames = try labels.map(LabelFile.read) ?? []
            let collection = try ImageCollection.gather(images, labelsFromFolders: labelsFromFolders)
            for (folder, n) in collection.skipped { note("skipped \(n) file\(n == 1 ? "" : "s") under \(folder) that \(n == 1 ? "is" : "are") not PNG or JPEG (by extension)") }
            guard !collection.paths.isEmpty else { throw LoupeError(.invalidArgument, "no PNG or JPEG images in \(images.joined(separator: ", "))") }

            // Features (as `loupe features` computes them) and predictions (as `loupe predict`).
            let run = try computeFeaturesAndPredictions(g, collection: collection, classNames: classNames)
            let n = run.paths.count
            guard k < n else {
                throw LoupeError(.invalidArgument, "-k \(k) is too large: the set has \(n) readable image\(n == 1 ? "" : "s"), so at most \(max(n - 1, 0)) neighbours")
            }
            note("\(n) images: \(run.features.columns) features of '\(run.layer)'; t-SNE, neighbours and top patches next")

            let map = try embed(run.features)
            let metric = DistanceMetric(rawValue: self.metric)!
            let nn = try NearestNeighbors(features: run.features, metric: metric)
                .search(queries: run.features, k: k, excluding: (0..<n).map { $0 })
            let labelNames = run.labelNames
            let classes = Array(Set(labelNames.compactMap { $0 })).sorted()
            let accuracy = try atlasAccuracy(run.features, labelNames: labelNames, classes: classes, k: k, metric: metric)
            let patchLayerNames = try lastSpatialLayers(g, count: patchLayers)
            let patches = try atlasTopPatches(model: model, graph: g, layers: patchLayerNames, paths: run.paths, images: image, batch: batch)

            var items: [AtlasContent.Item] = []
            for i in 0..<n {
                let picture = try image.readImage(run.paths[i])
                let thumb = try ThumbnailMosaic.thumbnail(picture, width: thumbnail, height: thumbnail)
                items.append(AtlasContent.Item(
                    path: run.paths[i], thumbnailPNG: try ImageIO.pngData(thumb), label: labelNames[i],
                    predicted: run.predicted[i].name, probability: run.predicted[i].probability,
                    x: map.points[2 * i], y: map.points[2 * i + 1], neighbors: nn[i].map(\.index), distances: nn[i].map(\.distance)))
            }
            let content = AtlasContent(
                title: "Loupe atlas: \((model as NSString).lastPathComponent)",
                subtitle: "\(model) · \(n) images · features of \(run.layer) (\(run.features.columns)-D) · Loupe \(LoupeVersion.string)",
                mapDescription: map.description, distanceDescription: metric == .l2 ? "Euclidean distance of the features" : "cosine distance (1 - cos) of the features",
                items: items, classNames: classes, k: k, accuracy: accuracy.perClass, overall: accuracy.overall,
                patches: patches, patchesNote: patchLayers == 0 ? "Not asked for (--patch-layers 0)." : "The model has no spatial layer to show.",
                settings: [("model", model), ("model SHA-256", try SHA256.hex(ofFile: model)), ("features", "\(run.layer), \(run.features.columns) values per image"),
                           ("map", map.description), ("neighbours", "k = \(k), \(metric == .l2 ? "Euclidean" : "cosine") distance, exact (as `loupe neighbors`)"),
                           ("preprocessing", run.preprocessing), ("labels", labelsFromFolders ? "from folders" : "none"),
                           ("class names", labels ?? "class indices"), ("Loupe version", LoupeVersion.string)],
                generator: "Loupe \(LoupeVersion.string)")
            let html = try AtlasPage.render(content)
            try OutputFile.write(Data(html.utf8), to: output, as: "atlas page")
            var line = String(format: "wrote %@ (%.1f MB, %d images", output, Double(html.utf8.count) / 1e6, n)
            if let o = accuracy.overall, o.total > 0 {
                line += String(format: ", %d-NN accuracy %.1f%%", k, 100 * Double(o.correct) / Double(o.total))
            }
            print(line + String(format: ", %.1f s)", Date().timeIntervalSince(started)))
        }
    }

    /// The t-SNE map (`tsne`, as `loupe tsne` runs it, openTSNE's defaults) of the features;
    /// a perplexity too large for the set is lowered to the largest allowed, (N - 1) / 3, with
    /// a note.
    func embed(_ f: FeatureMatrix) throws -> (points: [Float], description: String) {
        var options = TSNEOptions()
        options.seed = seed
        options.perplexity = perplexity
        let limit = TSNEOptions.maxPerplexity(points: f.rows)
        if perplexity > limit {
            options.perplexity = limit
            note(String(format: "--perplexity %@ is too large for %d images; using %.2f ((N - 1) / 3)", "\(perplexity)", f.rows, limit))
        }
        let progress = Progress(label: "t-SNE")
        let total = options.earlyIterations + options.iterations
        let r = try tsne(f, options: options) { it, _ in progress.update(it, total) }
        let text = String(format: "t-SNE of the %d-D features (perplexity %.4g, %d iterations, %@, seed %llu): KL divergence %.4f",
                          f.columns, options.perplexity, r.iterations, r.method == .fft ? "FFT interpolation" : "Barnes-Hut", seed, r.klDivergence)
        return (r.embedding, text)
    }

    struct FeatureRun {
        var paths: [String] = []
        var labelNames: [String?] = []
        var features: FeatureMatrix
        var predicted: [(name: String, probability: Double)] = []
        var layer: String
        var preprocessing: String
    }

    /// One pass over the images: the feature graph (`FeatureGraph`, the graph `loupe features`
    /// runs) and the whole model's class scores (`ClassScores`, as `loupe predict` reads them),
    /// batch by batch while the next batch is decoded. Unreadable images are listed and skipped.
    func computeFeaturesAndPredictions(_ g: Graph, collection: ImageCollection, classNames: [String]) throws -> FeatureRun {
        let tensor = try layer.map { try g.resolveTensor($0, argument: "`layer`") }
        let fg = try FeatureGraph.make(g, layer: tensor, pool: nil)
        let (prep, height, width) = try image.resolve(for: fg.graph.inputs[0])
        let extractor = try FeatureExtractor(model: model, featureGraph: fg, preprocessing: prep, height: height, width: width)
        let scores = try ClassScores(g)
        let modelExec = try makeExecutor(g, path: model)
        let modelBatchable = g.inputs[0].dims?.first?.value == nil
        let one = extractor.inputShape(batch: 1)
        let batchSize = fg.batchable ? batch : 1
        var values: [Float] = []
        var out = FeatureRun(features: FeatureMatrix(rows: 0, columns: 0, values: []), layer: fg.layer,
                             preprocessing: "preset \(image.preprocess), \(height)x\(width), \(prep.layout.rawValue.uppercased())")
        let progress = Progress(label: "atlas")
        // Per image read, the class scores and the graph's softmax output (when it ends in one).
        var logitRows: [[Float]] = [], outputRows: [[Float]] = []
        var start = 0
        while start < collection.paths.count {
            let end = min(start + batchSize, collection.paths.count)
            let b = DecodedBatch.decode(paths: Array(collection.paths[start..<end]), positions: Array(start..<end), end: end,
                                        options: image, preprocessing: prep, height: height, width: width)
            for (path, message) in b.failures { note("skipped unreadable image '\(path)': \(message)") }
            if !b.paths.isEmpty {
                let m = b.paths.count
                // Features: the graph and checks of `loupe features` (`FeatureExtractor`).
                values += try extractor.run(pixels: b.pixels, count: m)
                let x = Tensor(shape: extractor.inputShape(batch: m), floats: b.pixels)
                // Class scores: the whole batch at once when the model's batch is dynamic.
                let perImage = one.dropFirst().reduce(1, *)
                let chunks: [Tensor] = modelBatchable ? [x] : (0..<m).map { Tensor(shape: one, floats: Array(b.pixels[($0 * perImage)..<(($0 + 1) * perImage)])) }
                for chunk in chunks {
                    let r = try modelExec.run([g.inputs[0].name: chunk], keep: [scores.logits])
                    let logits = r[scores.logits]!
                    let rows = chunk.shape[0]
                    guard logits.isFloat, logits.count % rows == 0, logits.count > 0 else {
                        throw LoupeError.invalid("\(model): output '\(scores.logits)' has shape \(describe(logits.shape)); expected class scores")
                    }
                    let classes = logits.count / rows
                    let outs = scores.softmax == nil ? nil : r[scores.output]
                    if let outs, !(outs.isFloat && outs.count == logits.count) {
                        throw LoupeError.shape("\(model): output '\(scores.output)' \(describe(outs.shape)) does not hold the softmax of '\(scores.logits)' \(describe(logits.shape)) value for value")
                    }
                    for row in 0..<rows {
                        let span = (row * classes)..<((row + 1) * classes)
                        logitRows.append(Array(logits.floats[span]))
                        if let outs { outputRows.append(Array(outs.floats[span])) }
                    }
                }
                out.paths += b.paths
                out.labelNames += b.positions.map { collection.labelNames[$0] }
            }
            progress.update(end, collection.paths.count)
            start = end
        }
        guard !out.paths.isEmpty else { throw LoupeError(.invalidArgument, "none of the \(collection.paths.count) images could be read") }
        out.features = FeatureMatrix(rows: out.paths.count, columns: extractor.dimension, values: values)
        // Probabilities by the rule of `loupe predict` (`ClassScores.probabilities`).
        let (probs, given) = scores.probabilities(logits: logitRows, softmaxOutputs: scores.endsInSoftmax ? outputRows : nil)
        if given { note("no Softmax found, but every row of the output '\(scores.output)' is non-negative and sums to 1: taken as probabilities as they are") }
        out.predicted = probs.map { p in
            let best = p.indices.max { p[$0] < p[$1] || (p[$0] == p[$1] && $0 > $1) }!
            return (best < classNames.count ? classNames[best] : "class \(best)", Double(p[best]))
        }
        return out
    }

    /// The outputs of the last `count` spatial layers (4-D, larger than 1 × 1) in execution
    /// order: convolutions, or the activation right after one (what the next layer reads),
    /// and pooling layers.
    func lastSpatialLayers(_ g: Graph, count: Int) throws -> [String] {
        guard count > 0 else { return [] }
        let input = g.inputs[0]
        let (prep, h, w) = try image.resolve(for: input)
        let one = prep.layout == .nchw ? [1, prep.channels, h, w] : [1, h, w, prep.channels]
        var sorted = g
        try sorted.sortTopologically()
        let types = try sorted.foldConstants(inputTypes: [input.name: TensorType(.float32, one)])
        let activations: Set<String> = ["Relu", "LeakyRelu", "Elu", "Selu", "Sigmoid", "Tanh", "Clip", "HardSwish", "HardSigmoid", "PRelu", "Mish", "Gelu", "Softplus"]
        let spatialOps: Set<String> = ["Conv", "MaxPool", "AveragePool"]
        var consumers: [String: [Node]] = [:]
        for n in sorted.nodes { for i in n.inputs where !i.isEmpty { consumers[i, default: []].append(n) } }
        var chosen: [String] = []
        for n in sorted.nodes where spatialOps.contains(n.opType) {
            guard var t = n.outputs.first, let type = types[t], type.shape.count == 4, type.shape[2] * type.shape[3] > 1 else { continue }
            if n.opType == "Conv", let next = consumers[t], next.count == 1, activations.contains(next[0].opType), let o = next[0].outputs.first {
                t = o
            }
            chosen.append(t)
        }
        return Array(chosen.suffix(count))
    }
}

/// The leave-one-out k-NN accuracy per class (`leaveOneOutAccuracy`, as `loupe neighbors
/// --all` computes it) of the labelled images, nil when fewer than k + 1 have a label.
private func atlasAccuracy(_ f: FeatureMatrix, labelNames: [String?], classes: [String], k: Int, metric: DistanceMetric)
    throws -> (perClass: [AtlasContent.ClassAccuracy], overall: AtlasContent.ClassAccuracy?) {
    let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
    let labels = labelNames.map { $0.flatMap { index[$0] } ?? -1 }
    guard labels.filter({ $0 >= 0 }).count > k else { return ([], nil) }
    let r = try leaveOneOutAccuracy(features: f, labels: labels, k: k, metric: metric)
    let per = r.perClass.map { AtlasContent.ClassAccuracy(name: classes[$0.label], correct: $0.correct, total: $0.total) }
    return (per, AtlasContent.ClassAccuracy(name: "all", correct: r.correct, total: r.total))
}

/// The top patches of the atlas: for each layer, `TopPatchSearch` (what `loupe top-patches`
/// runs) over the images the atlas read, its 8 strongest channels with 6 images each, drawn
/// as `loupe top-patches` draws them.
private func atlasTopPatches(model: String, graph g: Graph, layers: [String], paths: [String], images: ImageOptions, batch: Int) throws -> [AtlasContent.LayerPatches] {
    let perChannel = min(6, paths.count), channelsShown = 8
    return try layers.map { name in
        let request = TopPatchSearch.Request(modelPath: model, graph: g, layer: name, paths: paths, options: images,
                                             k: perChannel, channels: nil, strongest: channelsShown, batch: batch)
        let found = try TopPatchSearch.run(request)
        let picture = try found.grid(options: images, cell: 48)
        return AtlasContent.LayerPatches(
            layer: found.layer, png: try ImageIO.pngData(picture),
            caption: "the \(found.channels.count) channels with the largest maximum over the set, each with its \(perChannel) strongest images (one unit per image), shown as the unit's receptive field in the model's input (striped where it leaves the input; + marks the unit's centre), as `loupe top-patches` shows them.")
    }
}
