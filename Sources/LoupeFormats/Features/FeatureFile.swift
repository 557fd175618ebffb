import Foundation
import LoupeTensor

/// A file of feature vectors, one row per image (`docs/features.md`), in HDF5 as h5py reads it.
///
/// Datasets: `features` `[N, D]` float32, `paths` `[N]` UTF-8 strings, `labels` `[N]` int32
/// (-1 when unknown), `index` `[N]` int64 (each row's 0-based position in the whole image list,
/// before sharding) and, when labels come from folders, `label_names` `[L]` strings.
/// Attributes (strings) on the root: the `Header` fields, and `processed`, how many images of
/// the shard have been handled (rows plus skipped unreadable images): a resumed run starts
/// there. Rows are appended batch by batch; `processed` is written after each batch's rows.
public enum FeatureFile {
    /// The value of the `format` attribute.
    public static let format = "loupe-features 1"

    /// What identifies a run: two files with equal headers (apart from the shard index) hold
    /// rows of the same features of the same image list.
    public struct Header: Equatable, Sendable {
        public var modelSHA256: String
        public var modelPath: String
        /// The tensor the features come from.
        public var layer: String
        /// Spatial pooling of a 4-D layer: none, avg or max.
        public var pool: String
        /// The resolved preprocessing, as JSON with sorted keys.
        public var preprocess: String
        public var shardIndex: Int
        public var shardCount: Int
        /// Images in the whole list (every shard).
        public var totalImages: Int
        /// SHA-256 of the whole image list (paths and label names).
        public var imagesSHA256: String
        /// Class names when labels come from folders, else nil.
        public var labelNames: [String]?

        public init(modelSHA256: String, modelPath: String, layer: String, pool: String, preprocess: String,
                    shardIndex: Int = 0, shardCount: Int = 1, totalImages: Int, imagesSHA256: String, labelNames: [String]? = nil) {
            self.modelSHA256 = modelSHA256
            self.modelPath = modelPath
            self.layer = layer
            self.pool = pool
            self.preprocess = preprocess
            self.shardIndex = shardIndex
            self.shardCount = shardCount
            self.totalImages = totalImages
            self.imagesSHA256 = imagesSHA256
            self.labelNames = labelNames
        }

        /// `I/N`.
        public var shard: String { "\(shardIndex)/\(shardCount)" }

        /// Images in this shard: the 0-based positions `i` of the whole list with
        /// `i % shardCount == shardIndex`.
        public var shardSize: Int { Shard(index: shardIndex, count: shardCount).size(of: totalImages) }

        /// The fields that differ from `other`, by attribute name (the shard index excluded
        /// when `ignoringShardIndex`).
        public func differences(from other: Header, ignoringShardIndex: Bool = false) -> [String] {
            var d: [String] = []
            if modelSHA256 != other.modelSHA256 { d.append("model_sha256") }
            if layer != other.layer { d.append("layer") }
            if pool != other.pool { d.append("pool") }
            if preprocess != other.preprocess { d.append("preprocess") }
            if ignoringShardIndex {
                if shardCount != other.shardCount { d.append("shard count") }
            } else if shard != other.shard {
                d.append("shard")
            }
            if totalImages != other.totalImages || imagesSHA256 != other.imagesSHA256 { d.append("image list") }
            if labelNames != other.labelNames { d.append("label_names") }
            return d
        }
    }

    /// A slice of an image list: every `count`-th image from `index` (0-based).
    public struct Shard: Equatable, Sendable {
        public var index: Int
        public var count: Int
        public init(index: Int, count: Int) { self.index = index; self.count = count }

        /// Parses `I/N` with 0 ≤ I < N.
        public init(parsing s: String) throws {
            let parts = s.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1 else {
                throw LoupeError(.invalidArgument, "a shard is I/N with N at least 1 (e.g. 0/4), got '\(s)'")
            }
            guard i >= 0, i < n else {
                throw LoupeError(.invalidArgument, "shard \(s): the index must be from 0 to \(n - 1) (0-based), got \(i)")
            }
            self.init(index: i, count: n)
        }

        /// The positions of this shard in a list of `total` items.
        public func positions(of total: Int) -> [Int] { Array(stride(from: index, to: total, by: count)) }
        public func size(of total: Int) -> Int { total > index ? (total - index + count - 1) / count : 0 }
    }

    /// Every row of a features file.
    public struct Contents: Sendable {
        public var header: Header
        public var features: [Float]
        /// D, the length of a feature vector.
        public var dimension: Int
        public var paths: [String]
        public var labels: [Int32]
        public var index: [Int64]
        public var processed: Int
        public var rows: Int { paths.count }
        public var isComplete: Bool { processed >= header.shardSize }

        public func row(_ i: Int) -> ArraySlice<Float> { features[(i * dimension)..<((i + 1) * dimension)] }
    }

    /// The SHA-256 of an image list: each path, a tab, its label name (empty when unknown) and
    /// a newline.
    public static func listHash(paths: [String], labelNames: [String?]) -> String {
        var h = SHA256()
        for (p, l) in zip(paths, labelNames) { h.update(Array("\(p)\t\(l ?? "")\n".utf8)) }
        return SHA256.hex(h.finalize())
    }

    /// Reads a whole features file.
    public static func read(_ path: String) throws -> Contents {
        let store = try HDF5Store(path: path, mode: .readOnly)
        let header = try readHeader(store)
        let (features, dim) = store.exists("features") ? try store.floats("features") : ([], 0)
        let paths = try store.strings("paths")
        let labels = try store.int32s("labels")
        let index = try store.int64s("index")
        let processed = try intAttribute(store, "processed")
        guard labels.count == paths.count, index.count == paths.count, dim == 0 || features.count == paths.count * dim else {
            throw LoupeError.invalid("\(path): the datasets have different row counts (paths \(paths.count), labels \(labels.count), index \(index.count), features \(dim == 0 ? 0 : features.count / dim))")
        }
        return Contents(header: header, features: features, dimension: dim, paths: paths, labels: labels, index: index, processed: processed)
    }

    static func readHeader(_ store: HDF5Store) throws -> Header {
        guard try store.attribute("format") == format else {
            throw LoupeError.invalid("\(store.path): not a Loupe features file (no format attribute '\(format)')")
        }
        func s(_ name: String) throws -> String {
            guard let v = try store.attribute(name) else { throw LoupeError.invalid("\(store.path): the attribute '\(name)' is missing") }
            return v
        }
        let shard = try Shard(parsing: try s("shard"))
        let names = store.exists("label_names") ? try store.strings("label_names") : nil
        return Header(modelSHA256: try s("model_sha256"), modelPath: try s("model_path"), layer: try s("layer"),
                      pool: try s("pool"), preprocess: try s("preprocess"), shardIndex: shard.index, shardCount: shard.count,
                      totalImages: try intAttribute(store, "total_images"), imagesSHA256: try s("images_sha256"), labelNames: names)
    }

    static func intAttribute(_ store: HDF5Store, _ name: String) throws -> Int {
        guard let s = try store.attribute(name), let v = Int(s), v >= 0 else {
            throw LoupeError.invalid("\(store.path): the attribute '\(name)' is missing or not a count")
        }
        return v
    }

    /// The end of the message a writer throws for a file it will not replace; the command line
    /// swaps it for its own flag.
    public static let startOverHint = "start over to replace it"
}
