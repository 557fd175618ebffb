import Foundation
import LoupeTensor

/// Writes a features file (`FeatureFile`) batch by batch, or continues one an interrupted run
/// left behind.
///
/// After each batch the rows are written, then the `rows` and `processed` attributes, then the
/// file is flushed; a run that stops in between leaves rows past `rows`, which the next run
/// cuts off before it continues at `processed`.
public final class FeatureWriter {
    public let path: String
    public let header: FeatureFile.Header
    /// D, the length of a feature vector.
    public let dimension: Int
    /// Images of the shard handled so far (rows plus skipped images).
    public private(set) var processed = 0
    /// Rows in the file.
    public private(set) var rows = 0
    /// True when an existing file is being continued.
    public let resumed: Bool
    private let store: HDF5Store

    /// Continues the features file at `path` when it holds the same run (equal `header` and
    /// `dimension`), else creates it. A file that is not a features file, or one of another
    /// run, is replaced only with `startOver`; otherwise the error names what differs and ends
    /// with `FeatureFile.startOverHint`.
    public init(path: String, header: FeatureFile.Header, dimension: Int, startOver: Bool = false) throws {
        precondition(dimension > 0, "a feature vector has at least one value")
        self.path = path
        self.header = header
        self.dimension = dimension
        var isDir: ObjCBool = false
        if !startOver, FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue {
            let existing = try Self.openExisting(path)
            let old = try FeatureFile.readHeader(existing)
            var differs = header.differences(from: old)
            let oldDim = existing.exists("features") ? try existing.shape("features").columns : dimension
            if oldDim != dimension { differs.append("feature size (\(oldDim) here, \(dimension) now)") }
            guard differs.isEmpty else {
                throw LoupeError(.invalidArgument, "\(path) holds features of another run (it differs in \(differs.joined(separator: ", "))); \(FeatureFile.startOverHint)")
            }
            store = existing
            rows = try FeatureFile.intAttribute(existing, "rows")
            processed = try FeatureFile.intAttribute(existing, "processed")
            guard rows <= processed, processed <= header.shardSize else {
                throw LoupeError.invalid("\(path): the attributes rows (\(rows)) and processed (\(processed)) do not fit a shard of \(header.shardSize) images; \(FeatureFile.startOverHint)")
            }
            for name in ["features", "paths", "labels", "index"] {
                guard try store.shape(name).rows >= rows else {
                    throw LoupeError.invalid("\(path): dataset '\(name)' has fewer than the \(rows) rows the file records; \(FeatureFile.startOverHint)")
                }
                try store.setRows(name, rows)
            }
            resumed = true
            return
        }
        store = try HDF5Store(path: path, mode: .create)
        resumed = false
        try store.createDataset("features", .float32(columns: dimension))
        try store.createDataset("paths", .string)
        try store.createDataset("labels", .int32)
        try store.createDataset("index", .int64)
        if let names = header.labelNames {
            try store.createDataset("label_names", .string)
            try store.append("label_names", strings: names)
        }
        let attributes: [(String, String)] = [
            ("format", FeatureFile.format), ("model_sha256", header.modelSHA256), ("model_path", header.modelPath),
            ("layer", header.layer), ("pool", header.pool), ("preprocess", header.preprocess), ("shard", header.shard),
            ("total_images", String(header.totalImages)), ("images_sha256", header.imagesSHA256),
        ]
        for (k, v) in attributes { try store.setAttribute(k, v) }
        try commit()
    }

    private static func openExisting(_ path: String) throws -> HDF5Store {
        let notOurs = LoupeError(.invalidArgument, "\(path) exists and is not a Loupe features file; \(FeatureFile.startOverHint)")
        guard HDF5Store.isHDF5(path) else { throw notOurs }
        let s = try HDF5Store(path: path, mode: .readWrite)
        guard try s.attribute("format") == FeatureFile.format else { throw notOurs }
        return s
    }

    /// Appends rows: `features` holds `paths.count` vectors of `dimension` values; `index` the
    /// rows' positions in the whole image list. `processed` becomes the shard's count of
    /// images handled, rows and skipped ones together.
    public func append(features: [Float], paths: [String], labels: [Int32], index: [Int64], processed: Int) throws {
        precondition(features.count == paths.count * dimension && labels.count == paths.count && index.count == paths.count,
                     "rows of unequal lengths")
        precondition(processed >= self.processed + paths.count && processed <= header.shardSize, "processed out of range")
        try store.append("features", floats: features)
        try store.append("paths", strings: paths)
        try store.append("labels", int32s: labels)
        try store.append("index", int64s: index)
        rows += paths.count
        self.processed = processed
        try commit()
    }

    private func commit() throws {
        try store.setAttribute("rows", String(rows))
        try store.setAttribute("processed", String(processed))
        try store.flush()
    }
}
