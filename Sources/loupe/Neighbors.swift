import ArgumentParser
import Dispatch
import Foundation
import LoupeAnalysis
import LoupeFormats
import LoupeRender
import LoupeSurgery
import LoupeTensor

struct Neighbors: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "neighbors",
        abstract: "Find the exact nearest neighbours of images or items in a features file.",
        discussion: """
            feats.h5 is a file written by `loupe features`. A QUERY is #I, the I-th item of the \
            file (0-based; it is not returned as its own neighbour), or an image file, whose \
            features are computed with the model, layer, pooling and preprocessing the file \
            records (the model at the file's model_path, or --model; a model file whose SHA-256 \
            differs from the file's model_sha256 is refused).

            The neighbours are exact: distances are computed in float64 and ties go to the lower \
            index (docs/neighbors.md). The default metric is cosine (1 - cos), which ignores the \
            overall magnitude of a feature vector; l2 is the Euclidean distance (not squared).

            Output: per query, its K neighbours nearest first with index, distance, label and path; \
            --json prints {metric, k, queries: [{query, neighbors: [{index, path, distance, label, \
            label_name}]}]}. -o grid.png draws one row per query: the query image, then its \
            neighbours captioned with distance and label.

            --all classifies every labelled item by the majority label of its K nearest other \
            labelled items (a tie goes to the nearest of the tied labels) and prints the \
            leave-one-out kNN accuracy, overall and per class.

            Examples:
              loupe neighbors feats.h5 '#0' '#17' -k 5
              loupe neighbors feats.h5 cat.jpg -k 8 -o cat-neighbors.png
              loupe neighbors feats.h5 --all -k 5 --json
            """)

    @Argument(help: ArgumentHelp("The features file (from `loupe features`).", valueName: "feats.h5"))
    var features: String

    @Argument(help: ArgumentHelp("Queries: #I for the I-th item of the file (0-based), or image files.", valueName: "query"))
    var queries: [String] = []

    @Option(name: .customShort("k"), parsing: .unconditional, help: "Neighbours per query.")
    var k: Int = 5

    @Option(help: "Distance: cosine (1 - cos) or l2 (Euclidean, not squared).")
    var metric: String = "cosine"

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Option(name: .shortAndLong, help: ArgumentHelp("Also draw the queries and their neighbours into this PNG, one row per query.", valueName: "grid.png"))
    var output: String?

    @Flag(help: "Replace the -o file if it exists.")
    var force = false

    @Flag(help: "Leave-one-out over the whole file: print the kNN classification accuracy (needs labels).")
    var all = false

    @Option(help: ArgumentHelp("The model file for image queries, when it is no longer at the file's model_path.", valueName: "PATH"))
    var model: String?

    @Flag(help: "Print on stderr how long reading the file and the search took, apart.")
    var timing = false

    @OptionGroup var global: GlobalOptions

    /// The side of the square each picture is fitted into on the grid.
    static let thumbnail = 96

    enum Query {
        case item(Int)
        case image(String)
    }

    func validate() throws {
        guard k >= 1 else { throw ValidationError("-k must be at least 1, got \(k)") }
        guard DistanceMetric(rawValue: metric) != nil else {
            throw ValidationError("--metric must be cosine or l2, got '\(metric)'")
        }
        if all {
            if !queries.isEmpty { throw ValidationError("--all takes every item of the file as a query; give no QUERY with it") }
            if output != nil { throw ValidationError("-o draws the neighbours of given queries; it does not apply to --all") }
        } else if queries.isEmpty {
            throw ValidationError("give at least one query (#I or an image file), or --all")
        }
        for q in queries { _ = try Self.parse(q) }
        if let output, !output.lowercased().hasSuffix(".png") {
            throw ValidationError("-o writes a PNG file; give a name ending in .png, got '\(output)'")
        }
    }

    static func parse(_ q: String) throws -> Query {
        guard q.hasPrefix("#") else { return .image(q) }
        guard let i = Int(q.dropFirst()), i >= 0 else {
            throw ValidationError("a query #I needs a non-negative item index I (0-based), got '\(q)'")
        }
        return .item(i)
    }

    func run() throws {
        global.apply()
        try runReportingErrors {
            let started = DispatchTime.now().uptimeNanoseconds
            // The search's GEMM kernels are generated on another thread while the file is read.
            let kernels = DispatchGroup()
            DispatchQueue.global().async(group: kernels) { NearestNeighbors.prepareKernels() }
            defer { kernels.wait() }
            let file = try FeatureFile.read(features)
            guard file.rows > 0, file.dimension > 0 else {
                throw LoupeError(.invalidArgument, "\(features) has no feature rows")
            }
            if !file.isComplete {
                note("\(features) is unfinished (\(file.processed) of \(file.header.shardSize) images processed); searching its \(file.rows) rows")
            }
            let items = FeatureMatrix(rows: file.rows, columns: file.dimension, values: file.features)
            let read = seconds(since: started)
            kernels.wait()
            let metric = DistanceMetric(rawValue: self.metric)!
            if all {
                try leaveOneOut(file, items, metric, read: read)
                return
            }

            // The query vectors: rows of the file, or computed from images.
            let parsed = try queries.map { try Self.parse($0) }
            var extractor: FeatureExtractor?
            var values: [Float] = [], excluding: [Int?] = []
            for (q, p) in zip(queries, parsed) {
                switch p {
                case .item(let i):
                    guard i < file.rows else {
                        throw LoupeError(.invalidArgument, "query \(q): \(features) has \(file.rows) items (#0 to #\(file.rows - 1))")
                    }
                    values += file.row(i)
                    excluding.append(i)
                case .image(let path):
                    if extractor == nil { extractor = try makeExtractor(file) }
                    values += try imageFeatures(path, extractor!)
                    excluding.append(nil)
                }
            }
            let most = excluding.contains { $0 != nil } ? file.rows - 1 : file.rows
            guard k <= most else {
                throw LoupeError(.invalidArgument, "-k \(k) is more than the neighbours there are: \(features) has \(file.rows) item\(file.rows == 1 ? "" : "s")"
                                 + (most < file.rows ? ", so an item query (#I) has at most \(most)" : ""))
            }
            let searchStart = DispatchTime.now().uptimeNanoseconds
            let nn = NearestNeighbors(features: items, metric: metric)
            let found = try nn.search(queries: FeatureMatrix(rows: queries.count, columns: file.dimension, values: values),
                                      k: k, excluding: excluding)
            if timing {
                note(String(format: "read %d x %d features in %.4f s; searched %d quer%@ (k %d, %@) in %.4f s on %d thread%@",
                            file.rows, file.dimension, read, queries.count, queries.count == 1 ? "y" : "ies", k, metric.rawValue,
                            seconds(since: searchStart), Threads.count, Threads.count == 1 ? "" : "s"))
            }
            if json {
                try printJSON(Output(metric: metric.rawValue, k: k, queries: zip(queries, found).map { q, list in
                    QueryResult(query: q, neighbors: list.map { entry($0, file) })
                }))
            } else {
                printText(file, found, metric)
            }
            if let output { try drawGrid(file, parsed, found, to: output) }
        }
    }

    // MARK: Image queries

    /// The model side of `loupe features` for the file's model, layer, pooling and preprocessing,
    /// after checking that the model file is the one the file was computed with.
    func makeExtractor(_ file: FeatureFile.Contents) throws -> FeatureExtractor {
        let h = file.header
        let path = model ?? h.modelPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw LoupeError(.invalidArgument, model == nil
                ? "image queries need the model \(features) was computed with; its model_path '\(path)' does not exist: pass --model PATH"
                : "--model '\(path)' does not exist")
        }
        let sha = try SHA256.hex(ofFile: path)
        guard sha == h.modelSHA256 else {
            throw LoupeError(.invalidArgument, "the model '\(path)' has SHA-256 \(sha), but \(features) was computed with a model whose SHA-256 is \(h.modelSHA256) (model_sha256); image queries need that model (--model PATH)")
        }
        guard let pool = Cut.Pooling(rawValue: h.pool) else {
            throw LoupeError.invalid("\(features): unknown pool attribute '\(h.pool)'")
        }
        let (prep, height, width) = try FeatureExtractor.preprocessing(fromJSON: h.preprocess, file: features)
        let fg = try FeatureExtractor.graph(model: path, config: global.config, layer: h.layer, pool: pool)
        let e = try FeatureExtractor(model: path, featureGraph: fg, preprocessing: prep, height: height, width: width)
        guard e.dimension == file.dimension else {
            throw LoupeError.invalid("\(path): the features of '\(h.layer)' have \(e.dimension) values, but \(features) holds \(file.dimension) per item")
        }
        return e
    }

    func imageFeatures(_ path: String, _ e: FeatureExtractor) throws -> [Float] {
        let pixels = try e.preprocessing.tensor(from: try ImageIO.read(path: path), height: e.height, width: e.width).floats
        return try e.run(pixels: pixels, count: 1)
    }

    // MARK: Output

    struct Output: Encodable {
        var metric: String
        var k: Int
        var queries: [QueryResult]
    }

    struct QueryResult: Encodable {
        var query: String
        var neighbors: [Entry]
    }

    /// One neighbour; `label_name` is null when the label is unknown or the file has no names.
    struct Entry: Encodable {
        var index: Int
        var path: String
        var distance: Double
        var label: Int
        var labelName: String?

        enum CodingKeys: String, CodingKey { case index, path, distance, label, label_name }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index)
            try c.encode(path, forKey: .path)
            try c.encode(distance, forKey: .distance)
            try c.encode(label, forKey: .label)
            try c.encode(labelName, forKey: .label_name)
        }
    }

    func entry(_ n: Neighbor, _ file: FeatureFile.Contents) -> Entry {
        let label = Int(file.labels[n.index])
        return Entry(index: n.index, path: file.paths[n.index], distance: n.distance, label: label,
                     labelName: labelName(label, file))
    }

    func labelName(_ label: Int, _ file: FeatureFile.Contents) -> String? {
        guard let names = file.header.labelNames, label >= 0, label < names.count else { return nil }
        return names[label]
    }

    func printText(_ file: FeatureFile.Contents, _ found: [[Neighbor]], _ metric: DistanceMetric) {
        for (q, list) in zip(queries, found) {
            var head = "query \(q)"
            if case .item(let i)? = try? Self.parse(q) {
                head += " \(file.paths[i])"
                if let name = labelName(Int(file.labels[i]), file) { head += " (\(name))" }
            }
            print("\(head): \(list.count) nearest by \(metric.rawValue) distance")
            let width = String(file.rows - 1).count + 1
            for (r, n) in list.enumerated() {
                let e = entry(n, file)
                let index = ("#\(n.index)").padding(toLength: width, withPad: " ", startingAt: 0)
                let label = e.labelName ?? (e.label >= 0 ? "\(e.label)" : "-")
                print(String(format: "%4d  %@  %.6f  %@  %@", r + 1, index, n.distance, label, e.path))
            }
        }
    }

    // MARK: Grid

    /// One row per query: the query's picture (framed), then its neighbours, each fitted into a
    /// `thumbnail`-pixel square with two caption lines under it (`Panel` lays the rows out).
    func drawGrid(_ file: FeatureFile.Contents, _ parsed: [Query], _ found: [[Neighbor]], to path: String) throws {
        try checkWritable(path, force: force)
        var tiles: [Panel.Tile] = []
        for (q, (p, list)) in zip(queries, zip(parsed, found)) {
            switch p {
            case .item(let i):
                tiles.append(Panel.Tile("", try tile(file.paths[i], lines: ["query \(q)", labelName(Int(file.labels[i]), file) ?? ""], framed: true)))
            case .image(let image):
                tiles.append(Panel.Tile("", try tile(image, lines: ["query", (image as NSString).lastPathComponent], framed: true)))
            }
            for n in list {
                let e = entry(n, file)
                tiles.append(Panel.Tile("", try tile(e.path, lines: [String(format: "#%d %.4g", n.index, n.distance),
                                                                     e.labelName ?? (e.label >= 0 ? "label \(e.label)" : "")], framed: false)))
            }
        }
        let grid = try Panel.compose(tiles, columns: k + 1)
        try ImageIO.writePNG(grid, path: path)
        FileHandle.standardError.write(Data("loupe: wrote \(path) (\(grid.width)x\(grid.height))\n".utf8))
    }

    /// A picture fitted into the thumbnail square (gray with "missing" when it cannot be read),
    /// with caption lines cut to the tile's width.
    func tile(_ path: String, lines: [String], framed: Bool) throws -> RGBImage {
        let side = Self.thumbnail, lineHeight = BitmapFont.lineHeight
        var out = try RGBImage(width: side, height: side + 4 + lines.count * lineHeight, fill: (1, 1, 1))
        if let image = try? ImageIO.read(path: path).rgb(), image.width > 0, image.height > 0 {
            let s = Double(side) / Double(max(image.width, image.height))
            let w = max(1, Int((Double(image.width) * s).rounded())), h = max(1, Int((Double(image.height) * s).rounded()))
            out.paste(try Resample.resize(image, width: w, height: h), x: (side - w) / 2, y: (side - h) / 2)
        } else {
            note("could not read '\(path)' for the grid; drawing a gray square")
            out.fillRect(x: 0, y: 0, w: side, h: side, color: (0.8, 0.8, 0.8))
            BitmapFont.drawText("missing", into: &out, x: 4, y: side / 2 - 4, color: (0.3, 0.3, 0.3))
        }
        if framed {
            let c: (Float, Float, Float) = (0.85, 0.2, 0.1)
            out.fillRect(x: 0, y: 0, w: side, h: 2, color: c)
            out.fillRect(x: 0, y: side - 2, w: side, h: 2, color: c)
            out.fillRect(x: 0, y: 0, w: 2, h: side, color: c)
            out.fillRect(x: side - 2, y: 0, w: 2, h: side, color: c)
        }
        let fit = (side + 1) / BitmapFont.advance
        for (r, line) in lines.enumerated() {
            BitmapFont.drawText(String(line.prefix(fit)), into: &out, x: 0, y: side + 4 + r * lineHeight, color: (0.1, 0.1, 0.1))
        }
        return out
    }

    // MARK: Leave-one-out

    struct AccuracyOutput: Encodable {
        struct PerClass: Encodable {
            var label: Int
            var label_name: String?
            var correct, total: Int
            var accuracy: Double
        }
        var metric: String
        var k: Int
        var items: Int
        var labelled: Int
        var correct: Int
        var accuracy: Double
        var per_class: [PerClass]
    }

    func leaveOneOut(_ file: FeatureFile.Contents, _ items: FeatureMatrix, _ metric: DistanceMetric, read: Double) throws {
        let labels = file.labels.map(Int.init)
        guard labels.contains(where: { $0 >= 0 }) else {
            throw LoupeError(.invalidArgument, "\(features) has no labels (every label is -1); --all reports leave-one-out kNN accuracy, which needs them: write the file with `loupe features --labels-from-folders`")
        }
        let labelled = labels.filter { $0 >= 0 }.count
        guard k < labelled else {
            throw LoupeError(.invalidArgument, "-k \(k) is more than the neighbours there are: \(features) has \(labelled) labelled item\(labelled == 1 ? "" : "s"), so each has at most \(labelled - 1)")
        }
        let bar = Progress(label: "neighbors")
        let searchStart = DispatchTime.now().uptimeNanoseconds
        let a = try leaveOneOutAccuracy(features: items, labels: labels, k: k, metric: metric,
                                        progress: labelled >= 2000 ? { done, total in bar.update(done, total) } : nil)
        if timing || labelled >= 2000 {
            note(String(format: "read %d x %d features in %.4f s; leave-one-out over %d labelled items (k %d, %@) in %.4f s on %d thread%@",
                        file.rows, file.dimension, read, labelled, k, metric.rawValue, seconds(since: searchStart),
                        Threads.count, Threads.count == 1 ? "" : "s"))
        }
        let perClass = a.perClass.map {
            AccuracyOutput.PerClass(label: $0.label, label_name: labelName($0.label, file), correct: $0.correct,
                                    total: $0.total, accuracy: $0.accuracy)
        }
        if json {
            try printJSON(AccuracyOutput(metric: metric.rawValue, k: k, items: file.rows, labelled: a.total,
                                         correct: a.correct, accuracy: a.accuracy, per_class: perClass))
            return
        }
        print(String(format: "leave-one-out %d-NN accuracy (%@): %.2f %% (%d of %d labelled items)",
                     k, metric.rawValue, 100 * a.accuracy, a.correct, a.total))
        for c in perClass {
            print(String(format: "  %@  %.2f %% (%d of %d)", c.label_name ?? "label \(c.label)", 100 * c.accuracy, c.correct, c.total))
        }
        if a.total < file.rows { print("  (\(file.rows - a.total) unlabelled items left out)") }
    }
}

private func seconds(since start: UInt64) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}
