import Dispatch
import Foundation
import LoupeAnalysis
import LoupeExplain
import LoupeFormats
import LoupeGraph
import LoupeRender
import LoupeSurgery
import LoupeTensor

/// The maximally activating patches of a layer over an image set, as `loupe top-patches` and
/// the atlas compute them: the model cut after the layer (`FeatureGraph`, unpooled) runs over
/// the images batch by batch (decoding overlapped, as `loupe features` does), `TopActivations`
/// keeps each channel's k strongest (image, position) entries, and each entry's box is the
/// unit's receptive field (`ReceptiveFieldAnalysis`, `ReceptiveField.box(ofUnit:inputSize:)`)
/// in the model's input, and in the original image through the preprocessing's `Frame`.
/// docs/top-patches.md has the conventions.
struct TopPatchSearch {
    struct Entry: Encodable {
        /// The image's position in the image list (0-based).
        var item: Int
        var path: String
        var value: Float
        /// The unit's position in the layer's map (0-based).
        var y: Int
        var x: Int
        /// The field in the model's input, `[y0, x0, y1, x1]`, end-exclusive, clipped.
        var box: [Int]
        /// The same box in the original image's pixels.
        var image_box: [Int]
    }

    struct Channel: Encodable {
        var channel: Int
        var entries: [Entry]
    }

    /// The layer's tensor, its channel count and map size, the field and the input size.
    var layer: String
    var channelCount: Int
    var mapSize: (height: Int, width: Int)
    var field: ReceptiveField
    var inputSize: (height: Int, width: Int)
    var preprocessing: Preprocessing
    /// Each chosen channel's entries, strongest first.
    var channels: [Channel]
    /// Images read and unreadable (listed on stderr and skipped).
    var imagesRead: Int
    var skipped: Int

    /// What to search: `layer` a node or tensor name of `graph` (loaded from `modelPath`),
    /// `channels` explicit channel indices (nil: the `strongest` channels with the largest
    /// maximum over the set), `k` entries per channel.
    struct Request {
        var modelPath: String
        var graph: Graph
        var layer: String
        var paths: [String]
        var options: ImageOptions
        var k: Int
        var channels: [Int]?
        var strongest = 16
        var batch = 16
        var strict = false
        /// Called after each batch with (images done, total).
        var progress: ((Int, Int) -> Void)? = nil
        /// Called for each unreadable image with its path and the reason.
        var skipped: ((String, String) -> Void)? = nil
    }

    static func run(_ r: Request) throws -> TopPatchSearch {
        let g = r.graph
        guard g.inputs.count == 1 else {
            throw LoupeError(.invalidArgument, "top patches need a model with exactly one input; this one has \(g.inputs.count) (\(g.inputs.map(\.name).joined(separator: ", ")))")
        }
        let tensor = try g.resolveTensor(r.layer, argument: "`layer`")
        let (prep, height, width) = try r.options.resolve(for: g.inputs[0])

        // The field, on the NCHW view of the model at this input size.
        var ag = g
        let shape = prep.layout == .nchw ? [1, prep.channels, height, width] : [1, height, width, prep.channels]
        let analysis: ReceptiveFieldAnalysis
        do {
            analysis = try ReceptiveFieldCommand.analysis(&ag, inputShape: shape)
        } catch let e as LoupeError { throw e.context(r.modelPath) }
        guard let type = analysis.types[tensor], type.shape.count == 4 else {
            let s = analysis.types[tensor].map { describe($0.shape) } ?? "unknown"
            throw LoupeError(.invalidArgument, "layer '\(r.layer)' has shape \(s); top patches need a spatial map [N, C, H, W] (a convolution, pool or activation before any global pool)")
        }
        let field = try analysis.field(of: tensor)
        guard field.isFinite, field.axes.count == 2 else {
            throw LoupeError(.invalidArgument, "layer '\(r.layer)' (\(describe(type.shape))) has no finite receptive field: each unit depends on the whole input (a global pool, a reduction or a fully connected layer on the way); pick a layer before it")
        }
        let axes = try analysis.unitAxes(of: tensor)
        let layout: TopActivations.Layout
        switch (axes[0], axes[1]) {
        case (2, 3): layout = .channelsFirst
        case (1, 2): layout = .channelsLast
        default:
            throw LoupeError(.invalidArgument, "layer '\(r.layer)' (\(describe(type.shape))) is not a map [N, C, H, W] or [N, H, W, C] over the input's height and width")
        }
        let (mapH, mapW, channelCount) = layout == .channelsFirst
            ? (type.shape[2], type.shape[3], type.shape[1]) : (type.shape[1], type.shape[2], type.shape[3])
        guard channelCount > 0, mapH > 0, mapW > 0 else {
            throw LoupeError.shape("layer '\(r.layer)' has an empty map \(describe(type.shape))")
        }
        if let bad = r.channels?.first(where: { $0 < 0 || $0 >= channelCount }) {
            throw LoupeError(.invalidArgument, "--channels: channel \(bad) is out of range: layer '\(r.layer)' has \(channelCount) channels (0 to \(channelCount - 1))")
        }

        // The forward pass up to the layer, batch by batch.
        let fg = try FeatureGraph.make(g, layer: tensor, pool: Cut.Pooling.none)
        let input = fg.graph.inputs[0].name, output = fg.graph.outputs[0].name
        let exec = try makeExecutor(fg.graph, path: r.modelPath)
        let batchSize = fg.batchable ? max(1, r.batch) : 1
        var top = TopActivations(channels: channelCount, k: r.k)
        let count = r.paths.count
        let decodeQueue = DispatchQueue(label: "loupe.top-patches.decode")
        func load(from start: Int) -> () -> DecodedBatch {
            let end = min(start + batchSize, count)
            let box = DecodedBatchBox()
            let ready = DispatchSemaphore(value: 0)
            let options = r.options
            let paths = Array(r.paths[start..<end])
            decodeQueue.async {
                box.value = DecodedBatch.decode(paths: paths, positions: Array(start..<end), end: end,
                                                options: options, preprocessing: prep, height: height, width: width)
                ready.signal()
            }
            return { ready.wait(); return box.value! }
        }
        var read = 0, skipped = 0
        var next: (() -> DecodedBatch)? = count > 0 ? load(from: 0) : nil
        while let wait = next {
            let b = wait()
            next = b.end < count ? load(from: b.end) : nil
            for (path, message) in b.failures {
                if r.strict {
                    throw LoupeError(.invalidArgument, "\(message) (--strict stops here; without it unreadable images are skipped)").context("image '\(path)'")
                }
                r.skipped?(path, message)
            }
            skipped += b.failures.count
            if !b.paths.isEmpty {
                let n = b.paths.count
                let x = Tensor(shape: [n] + shape.dropFirst(), floats: b.pixels)
                let y = try exec.run([input: x])[output]!
                guard y.isFloat, y.count == n * channelCount * mapH * mapW, y.shape.first == n else {
                    throw LoupeError.shape("\(r.modelPath): layer '\(r.layer)' of a batch of \(n) has shape \(describe(y.shape)), expected \(n) x \(channelCount) x \(mapH) x \(mapW) values")
                }
                // Batch item i is list position b.positions[i]: runs of consecutive positions.
                y.floats.withUnsafeBufferPointer { v in
                    let per = channelCount * mapH * mapW
                    var i = 0
                    while i < n {
                        var j = i + 1
                        while j < n && b.positions[j] == b.positions[j - 1] + 1 { j += 1 }
                        top.add(UnsafeBufferPointer(rebasing: v[(i * per)..<(j * per)]), count: j - i, height: mapH, width: mapW,
                                layout: layout, firstItem: b.positions[i])
                        i = j
                    }
                }
                read += n
            }
            r.progress?(b.end, count)
        }
        guard read > 0 else { throw LoupeError(.invalidArgument, "none of the \(count) images could be read") }

        let chosen = r.channels ?? top.strongestChannels(min(r.strongest, channelCount))
        let inputSize = [height, width]
        var frames: [Int: Preprocessing.Frame] = [:]
        var result: [Channel] = []
        for c in chosen {
            var entries: [Entry] = []
            for e in top.entries(channel: c) {
                let b = field.box(ofUnit: [e.y, e.x], inputSize: inputSize)!
                let box = [b[0].lowerBound, b[1].lowerBound, b[0].upperBound, b[1].upperBound]
                if frames[e.item] == nil {
                    let img = try r.options.readImage(r.paths[e.item])
                    frames[e.item] = try prep.frame(imageWidth: img.width, imageHeight: img.height, height: height, width: width)
                }
                entries.append(Entry(item: e.item, path: r.paths[e.item], value: e.value, y: e.y, x: e.x,
                                     box: box, image_box: frames[e.item]!.imageBox(box)))
            }
            result.append(Channel(channel: c, entries: entries))
        }
        return TopPatchSearch(layer: tensor, channelCount: channelCount, mapSize: (mapH, mapW), field: field,
                              inputSize: (height, width), preprocessing: prep, channels: result,
                              imagesRead: read, skipped: skipped)
    }

    /// The grid picture: one row per channel, each entry's field cut from the image as the
    /// model sees it (the preprocessing's geometry only), padding striped, the unit marked.
    /// Each image is decoded once more, and only the images that hold an entry.
    func grid(options: ImageOptions, cell: Int = 96) throws -> RGBImage {
        var style = PatchGrid.Style()
        style.cell = cell
        var byItem: [Int: [(row: Int, column: Int)]] = [:]
        for (r, ch) in channels.enumerated() {
            for (c, e) in ch.entries.enumerated() { byItem[e.item, default: []].append((r, c)) }
        }
        var patches = channels.map { [PatchGrid.Patch?](repeating: nil, count: $0.entries.count) }
        let geometry = preprocessing.geometryOnly
        for item in byItem.keys.sorted() {
            let places = byItem[item]!
            let path = channels[places[0].row].entries[places[0].column].path
            let picture = try RGBImage(chw: try geometry.tensor(from: try options.readImage(path),
                                                               height: inputSize.height, width: inputSize.width))
            for (r, c) in places {
                let e = channels[r].entries[c]
                let f = field.field(ofUnit: [e.y, e.x])!, centre = field.centre(ofUnit: [e.y, e.x])!
                let p = try PatchGrid.Patch.cut(from: picture, field: (f[0], f[1]), centre: (centre[0], centre[1]),
                                                label: Self.format(e.value))
                patches[r][c] = try p.scaled(toFit: cell)
            }
        }
        let rows = zip(channels, patches).map { ch, ps in PatchGrid.Row(title: "ch \(ch.channel)", patches: ps.map { $0! }) }
        let size = field.axes.map { String($0!.size) }.joined(separator: "x")
        let stride = field.axes.map { ReceptiveFieldCommand.Row.number($0!.stride) }.joined(separator: "x")
        let heading = "\(layer): top \(channels.map(\.entries.count).max() ?? 0) of \(imagesRead) images, field \(size), stride \(stride)"
        return try PatchGrid.render(rows, heading: heading, style: style)
    }

    /// An activation as a short label: 4 significant digits.
    static func format(_ v: Float) -> String {
        let a = abs(v)
        if a != 0 && (a < 1e-3 || a >= 1e5) { return String(format: "%.3g", v) }
        return String(format: a >= 100 ? "%.1f" : (a >= 10 ? "%.2f" : "%.3f"), v)
    }
}
