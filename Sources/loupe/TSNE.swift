import ArgumentParser
import Foundation
import LoupeAnalysis
import LoupeFormats
import LoupeRender
import LoupeTensor

struct TSNECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tsne",
        abstract: "Map a features file to the plane with t-SNE and draw it coloured by label.",
        discussion: """
            openTSNE's defaults: PCA to 50 dimensions, affinities from the exact 3 x perplexity \
            nearest neighbours, PCA initialisation, early exaggeration 12 for 250 iterations, \
            learning rate N / exaggeration, momentum 0.5 then 0.8; repulsive forces by \
            Barnes-Hut below 10,000 points and by FFT-accelerated interpolation (FIt-SNE) from \
            10,000. Progress (iteration and KL divergence every 50 iterations) goes to stderr; \
            the final KL divergence is printed. The same seed gives the same map, bit for bit, \
            whatever --threads. See docs/tsne.md.

            Examples:
              loupe tsne feats.h5 -o map.png
              loupe tsne feats.h5 -o map.png --perplexity 50 --seed 7 --save-npy emb.npy
              loupe tsne feats.h5 --json
            """)

    @Argument(help: "The features file (written by `loupe features`).")
    var features: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the map as a PNG scatter plot coloured by label, with a legend.", valueName: "map.png"))
    var output: String?

    @Option(parsing: .unconditional, help: "The perplexity, the effective number of neighbours each point keeps (default 30; at most (N - 1) / 3).")
    var perplexity: Double = 30

    @Option(parsing: .unconditional, help: "Iterations after the 250 of early exaggeration (default 750).")
    var iterations: Int = 750

    @Option(help: "Seed of the initial jitter (default 0); the same seed gives the same map.")
    var seed: UInt64 = 0

    @Option(help: "How repulsive forces are computed: auto (Barnes-Hut below 10,000 points, else fft), bh or fft (default auto).")
    var method: String = "auto"

    @Option(parsing: .unconditional, help: "Barnes-Hut's opening angle: a cell whose size over its distance is below it counts as one point (default 0.35; openTSNE uses 0.5; smaller is more exact and slower, 0 is exact). Only for Barnes-Hut (below 10,000 points or --method bh).")
    var theta: Double = TSNEOptions().theta

    @Option(name: .customLong("save-npy"), help: ArgumentHelp("Also write the embedding, N x 2 float32, as .npy (row i is item i of the file).", valueName: "emb.npy"))
    var saveNpy: String?

    @Flag(help: "Print JSON: {points, dimension, iterations, perplexity, neighbours, method, kl_divergence, seconds, embedding: [[x, y], ...]}.")
    var json = false

    @Flag(help: "Also write a mosaic of the images (read from the paths in the features file) placed on a grid by an optimal assignment of the map's points to its cells (Jonker-Volgenant), as MAP-thumbnails.png beside -o MAP.png.")
    var thumbnails = false

    @Option(name: .customLong("thumbnail-size"), help: "Pixels per thumbnail cell of --thumbnails (default 32).")
    var thumbnailSize = 32

    @Flag(help: "Overwrite existing output files.")
    var force = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard perplexity > 0, perplexity.isFinite else {
            throw ValidationError("--perplexity must be a positive number; got \(perplexity).")
        }
        guard iterations >= 0 else { throw ValidationError("--iterations must be 0 or more; got \(iterations).") }
        guard theta >= 0, theta.isFinite else { throw ValidationError("--theta must be 0 or more; got \(theta).") }
        guard TSNEOptions.Method(rawValue: method) != nil else {
            throw ValidationError("--method must be auto, bh or fft; got '\(method)'.")
        }
        if thumbnails && output == nil { throw ValidationError("--thumbnails writes its mosaic beside the map: give -o MAP.png too.") }
        guard (4...512).contains(thumbnailSize) else { throw ValidationError("--thumbnail-size must be between 4 and 512 pixels; got \(thumbnailSize).") }
        if let output, !output.lowercased().hasSuffix(".png") {
            throw ValidationError("-o/--output writes a PNG; give a path ending in .png (got '\(output)').")
        }
    }

    struct Summary: Encodable {
        var points: Int
        var dimension: Int
        var iterations: Int
        var perplexity: Double
        var neighbours: Int
        var method: String
        var klDivergence: Double
        var seconds: Double
        var embedding: [[Float]]

        enum CodingKeys: String, CodingKey {
            case points, dimension, iterations, perplexity, neighbours, method, seconds, embedding
            case klDivergence = "kl_divergence"
        }
    }

    func run() throws {
        global.apply()
        try runReportingErrors {
            if let output { try checkWritable(output, force: force) }
            if let mosaic = mosaicPath { try checkWritable(mosaic, force: force) }
            if let saveNpy { try checkWritable(saveNpy, force: force) }
            let file = try FeatureFile.read(features)
            guard file.rows > 0 else {
                throw LoupeError(.invalidArgument, "\(features) holds no feature vectors")
            }
            guard file.isComplete else {
                throw LoupeError(.invalidArgument, "\(features) is unfinished: \(file.processed) of \(file.header.shardSize) images processed; run `loupe features` again to finish it")
            }
            guard file.rows >= 2 else {
                throw LoupeError(.invalidArgument, "\(features) holds 1 feature vector; t-SNE needs at least 2")
            }
            let limit = TSNEOptions.maxPerplexity(points: file.rows)
            guard perplexity <= limit else {
                throw LoupeError(.invalidArgument, "--perplexity \(perplexity) is too large for the \(file.rows) feature vectors in \(features): at most \(String(format: "%.2f", max(limit, 0))) ((N - 1) / 3)")
            }
            var options = TSNEOptions()
            options.perplexity = perplexity
            options.iterations = iterations
            options.seed = seed
            options.theta = theta
            options.method = TSNEOptions.Method(rawValue: method)!
            let resolved = options.resolvedMethod(points: file.rows)
            let err = FileHandle.standardError
            err.write(Data("t-SNE of \(file.rows) x \(file.dimension) features, perplexity \(perplexity), \(options.earlyIterations) + \(iterations) iterations, \(resolved == .fft ? "FFT interpolation" : "Barnes-Hut"), \(Threads.count) threads\n".utf8))
            let start = Date()
            let x = FeatureMatrix(rows: file.rows, columns: file.dimension, values: file.features)
            let result = try tsne(x, options: options) { it, kl in
                err.write(Data(String(format: "iteration %4d  KL %.4f  %.1f s\n", it, kl, Date().timeIntervalSince(start)).utf8))
            }
            let seconds = Date().timeIntervalSince(start)
            if let saveNpy {
                try NPY.write(Tensor(shape: [file.rows, 2], floats: result.embedding), path: saveNpy)
            }
            if let output {
                let names = file.header.labelNames ?? []
                let labels = file.labels.map { Int($0) }
                let title = "t-SNE of \((features as NSString).lastPathComponent): \(file.rows) points, perplexity \(formatNumber(perplexity)), KL \(String(format: "%.3f", result.klDivergence))"
                let image = try Scatter.render(points: result.embedding, labels: labels, classNames: names, title: title)
                try ImageIO.writePNG(image, path: output)
            }
            if let mosaic = mosaicPath {
                try writeMosaic(result.embedding, paths: file.paths, to: mosaic)
            }
            if json {
                try printJSON(Summary(points: file.rows, dimension: file.dimension, iterations: result.iterations,
                                      perplexity: perplexity, neighbours: result.neighbours, method: result.method.rawValue,
                                      klDivergence: result.klDivergence, seconds: seconds,
                                      embedding: (0..<file.rows).map { [result.embedding[2 * $0], result.embedding[2 * $0 + 1]] }))
            } else {
                print(String(format: "KL divergence %.4f after %d iterations (%@, %d points, %.1f s)", result.klDivergence,
                             result.iterations, result.method.rawValue, file.rows, seconds))
                if let output { print("map -> \(output)") }
                if let mosaic = mosaicPath { print("thumbnails -> \(mosaic)") }
                if let saveNpy { print("embedding [\(file.rows), 2] -> \(saveNpy)") }
            }
        }
    }

    private func formatNumber(_ v: Double) -> String {
        v == v.rounded() ? String(Int(v)) : String(v)
    }

    /// Where --thumbnails writes: MAP-thumbnails.png beside MAP.png.
    var mosaicPath: String? {
        guard thumbnails, let output else { return nil }
        return String(output.dropLast(4)) + "-thumbnails.png"
    }

    /// The thumbnail mosaic: the map's points assigned to the cells of a near-square grid by
    /// least total squared distance (`ThumbnailMosaic.place`, exact Jonker-Volgenant), each
    /// cell showing its image. An image that cannot be read is drawn grey and listed.
    func writeMosaic(_ embedding: [Float], paths: [String], to path: String) throws {
        let err = FileHandle.standardError
        let placement = try ThumbnailMosaic.place(points: embedding)
        if placement.items.count < paths.count {
            err.write(Data("thumbnails: \(placement.items.count) of \(paths.count) images (an even subsample, \(placement.rows) x \(placement.columns) cells)\n".utf8))
        }
        var unreadable = 0
        let picture = try ThumbnailMosaic.render(placement, cellSize: thumbnailSize) { i in
            do {
                return try ImageIO.read(path: paths[i])
            } catch {
                unreadable += 1
                err.write(Data("thumbnails: cannot read '\(paths[i])' (\(error)); its cell is grey\n".utf8))
                return try RGBImage(width: 1, height: 1, fill: (0.6, 0.6, 0.6))
            }
        }
        try ImageIO.writePNG(picture, path: path)
        if unreadable > 0 { err.write(Data("thumbnails: \(unreadable) image(s) could not be read\n".utf8)) }
    }
}