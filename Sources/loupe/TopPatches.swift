import ArgumentParser
import Foundation
import LoupeFormats
import LoupeGraph
import LoupeTensor

struct TopPatches: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top-patches",
        abstract: "Find the image patches that excite each channel of a layer most, over a set of images.",
        discussion: """
            IMAGES are files or folders, taken as `loupe features` takes them (folders searched \
            recursively for PNG and JPEG files, in sorted order). Images that cannot be read are \
            listed on stderr and skipped (--strict stops at the first).

            For each channel of the layer, the k strongest activations over the whole set are \
            kept, at most one per image (its strongest position), while the images stream past: \
            memory does not grow with the set. Ties go to the earlier image, then the smaller y, \
            then the smaller x. By default the 16 channels with the largest maximum over the set \
            are shown, strongest first; --channels picks them (0-based, in the order given).

            Each entry is shown as the input patch its unit's receptive field covers (as \
            `loupe receptive-field` computes it), scaled to a common cell, the unit's position \
            (the field's centre) marked with a red cross and the part of the field beyond the \
            input (padding) striped; one row per channel. With --json, stdout gets {layer, \
            channels: [{channel, entries: [{path, value, y, x, box, image_box}]}]}: y, x the \
            unit in the layer's map, box = [y0, x0, y1, x1] the field in the model's input \
            pixels (end-exclusive, clipped to the input), image_box the same box in the \
            original image's pixels (before resizing and cropping). See docs/top-patches.md.

            Examples:
              loupe top-patches model.onnx photos/ --layer /layer4/layer4.1/relu_1/Relu -o top.png
              loupe top-patches shapes-gap.onnx test/ --layer /12/Relu --preprocess none --channels 3,7,12 -k 6 -o top.png --json
            """)

    @Argument(help: "The model file (.onnx, .h5 or .keras).")
    var model: String

    @Argument(help: "Image files (PNG or JPEG) or folders of them.")
    var images: [String] = []

    @Option(help: "The layer: a node name as `loupe inspect` lists it, or a tensor name, computing a spatial map [N, C, H, W].")
    var layer: String

    @Option(help: ArgumentHelp("Comma-separated channel indices (0-based). Default: the 16 channels with the largest maximum over the set.", valueName: "list"))
    var channels: String?

    @Option(name: .short, parsing: .unconditional, help: "Patches per channel: the k strongest activations, at most one per image.")
    var k: Int = 9

    @Option(name: .shortAndLong, help: ArgumentHelp("The PNG grid to write (one row per channel).", valueName: "grid.png"))
    var output: String?

    @Flag(help: "Print the entries as JSON on stdout.")
    var json = false

    @Option(parsing: .unconditional, help: "Images per forward pass.")
    var batch: Int = 16

    @Option(parsing: .unconditional, help: "Side in pixels of the square cell each patch is scaled into.")
    var cell: Int = 96

    @Flag(help: "Stop at the first image that cannot be read instead of listing and skipping it.")
    var strict = false

    @Flag(help: "Overwrite the output file if it exists.")
    var force = false

    @OptionGroup var image: ImageOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image file or folder") }
        if output == nil && !json { throw ValidationError("give -o grid.png, --json, or both") }
        guard k >= 1, k <= 10_000 else { throw ValidationError("-k must be between 1 and 10000, got \(k)") }
        guard batch >= 1, batch <= 65536 else { throw ValidationError("--batch must be between 1 and 65536, got \(batch)") }
        guard cell >= 8, cell <= 1024 else { throw ValidationError("--cell must be between 8 and 1024, got \(cell)") }
        if let channels { _ = try Self.parseChannels(channels) }
        if image.inputNpy != nil { throw ValidationError("--input-npy does not apply to top-patches: give image files or folders") }
    }

    /// `3,7,12` as [3, 7, 12]: non-negative, no repeats.
    static func parseChannels(_ s: String) throws -> [Int] {
        let parts = s.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var out: [Int] = []
        for p in parts {
            guard let c = Int(p), c >= 0 else {
                throw ValidationError("--channels expects comma-separated channel indices (0-based) such as 3,7,12; '\(p)' in '\(s)' is not one")
            }
            guard !out.contains(c) else { throw ValidationError("--channels names channel \(c) twice") }
            out.append(c)
        }
        return out
    }

    func run() throws {
        global.apply()
        try runReportingErrors {
            if let output {
                try checkWritable(output, force: force)
                try OutputFile.checkFolder(output, as: "the grid")
            }
            let g = try loadModel(model, config: global.config)
            let collection = try ImageCollection.gather(images)
            for (folder, n) in collection.skipped {
                note("skipped \(n) file\(n == 1 ? "" : "s") under \(folder) that \(n == 1 ? "is" : "are") not PNG or JPEG (by extension)")
            }
            guard !collection.paths.isEmpty else {
                throw LoupeError(.invalidArgument, "no PNG or JPEG images in \(images.joined(separator: ", "))")
            }
            guard k <= collection.paths.count else {
                throw LoupeError(.invalidArgument, "-k \(k) is larger than the set: \(collection.paths.count) image\(collection.paths.count == 1 ? "" : "s") (at most one patch per image and channel)")
            }
            let progress = Progress(label: "top-patches")
            let request = TopPatchSearch.Request(
                modelPath: model, graph: g, layer: layer, paths: collection.paths, options: image, k: k,
                channels: try channels.map(Self.parseChannels), batch: batch, strict: strict,
                progress: { progress.update($0, $1) },
                skipped: { note("skipped unreadable image '\($0)': \($1)") })
            let found = try TopPatchSearch.run(request)
            if found.skipped > 0 { note("skipped \(found.skipped) unreadable image\(found.skipped == 1 ? "" : "s") (listed above)") }
            if !found.field.uniform {
                note("the field of '\(found.layer)' differs between units (branches with different strides meet); boxes use unit (0, 0)'s size moved by the stride")
            }
            if let output {
                let picture = try found.grid(options: image, cell: cell)
                try ImageIO.writePNG(picture, path: output)
                let line = "wrote \(output): \(found.channels.count) channels x up to \(k) patches of '\(found.layer)' over \(found.imagesRead) images (\(picture.width)x\(picture.height))"
                if json { note(line) } else { print(line) }
            }
            if json {
                try printJSON(Report(found))
            } else {
                for ch in found.channels {
                    let best = ch.entries.first.map { "max \(TopPatchSearch.format($0.value)) in \($0.path) at (y \($0.y), x \($0.x))" } ?? "no activations"
                    print("channel \(ch.channel): \(best)")
                }
            }
        }
    }

    /// The JSON on stdout.
    struct Report: Encodable {
        struct Field: Encodable {
            var size: [Int]
            var stride: [Double]
            var offset: [Double]
        }
        var layer: String
        var channel_count: Int
        var map_size: [Int]
        var input_size: [Int]
        var images: Int
        var receptive_field: Field
        var channels: [TopPatchSearch.Channel]

        init(_ s: TopPatchSearch) {
            layer = s.layer
            channel_count = s.channelCount
            map_size = [s.mapSize.height, s.mapSize.width]
            input_size = [s.inputSize.height, s.inputSize.width]
            images = s.imagesRead
            receptive_field = Field(size: s.field.axes.map { $0!.size }, stride: s.field.axes.map { $0!.stride },
                                    offset: s.field.axes.map { $0!.offset })
            channels = s.channels
        }
    }
}
