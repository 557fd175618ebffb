import Foundation
import LoupeTensor

extension FeatureFile {
    /// Joins the shard files `inputs` (given in any order) of one run into one file at
    /// `output`, its rows in the order of the whole image list (by `index`), as the unsharded
    /// run would have written them; the result is shard `0/1`.
    ///
    /// Refuses shards of different runs (naming the attribute that differs: model_sha256,
    /// layer, pool, preprocess, image list, ...), a missing or repeated shard, and an
    /// unfinished one. An existing `output` is replaced only with `startOver`.
    @discardableResult
    public static func merge(_ inputs: [String], to output: String, startOver: Bool = false) throws -> Contents {
        guard !inputs.isEmpty else { throw LoupeError(.invalidArgument, "give the shard files to merge") }
        let parts = try inputs.map { try read($0) }
        let first = parts[0].header
        for (path, p) in zip(inputs, parts).dropFirst() {
            let d = p.header.differences(from: first, ignoringShardIndex: true)
            guard d.isEmpty else {
                throw LoupeError(.invalidArgument, "\(path) and \(inputs[0]) are not shards of one run: they differ in \(d.joined(separator: ", ")) (\(describeDifference(d[0], p.header, first)))")
            }
        }
        let n = first.shardCount
        var byIndex: [Int: String] = [:]
        for (path, p) in zip(inputs, parts) {
            if let earlier = byIndex[p.header.shardIndex] {
                throw LoupeError(.invalidArgument, "shard \(p.header.shard) is given twice (\(earlier) and \(path))")
            }
            byIndex[p.header.shardIndex] = path
            guard p.isComplete else {
                throw LoupeError(.invalidArgument, "\(path) (shard \(p.header.shard)) is unfinished: \(p.processed) of its \(p.header.shardSize) images processed; run the same command again to finish it")
            }
            guard p.dimension == parts[0].dimension || p.rows == 0 || parts[0].rows == 0 else {
                throw LoupeError(.invalidArgument, "\(path) has feature vectors of \(p.dimension) values, \(inputs[0]) of \(parts[0].dimension)")
            }
            for i in p.index where i < 0 || Int(i) >= first.totalImages || Int(i) % n != p.header.shardIndex {
                throw LoupeError.invalid("\(path): row index \(i) does not belong to shard \(p.header.shard) of \(first.totalImages) images")
            }
        }
        let missing = (0..<n).filter { byIndex[$0] == nil }
        guard missing.isEmpty else {
            let given = byIndex.keys.sorted().map { "\($0)/\(n) (\(byIndex[$0]!))" }.joined(separator: ", ")
            throw LoupeError(.invalidArgument, "shard\(missing.count == 1 ? "" : "s") \(missing.map { "\($0)/\(n)" }.joined(separator: ", ")) \(missing.count == 1 ? "is" : "are") missing; given: \(given)")
        }

        // Rows of every shard, in the order of the whole list.
        var rows: [(part: Int, row: Int)] = []
        for (k, p) in parts.enumerated() { for r in 0..<p.rows { rows.append((k, r)) } }
        rows.sort { parts[$0.part].index[$0.row] < parts[$1.part].index[$1.row] }
        let dim = parts.first { $0.rows > 0 }?.dimension ?? max(parts[0].dimension, 1)
        var merged = Contents(header: first, features: [], dimension: dim, paths: [], labels: [], index: [], processed: first.totalImages)
        merged.header.shardIndex = 0
        merged.header.shardCount = 1
        merged.features.reserveCapacity(rows.count * dim)
        for (k, r) in rows {
            merged.features += parts[k].row(r)
            merged.paths.append(parts[k].paths[r])
            merged.labels.append(parts[k].labels[r])
            merged.index.append(parts[k].index[r])
        }
        if !startOver, FileManager.default.fileExists(atPath: output) {
            throw LoupeError(.invalidArgument, "\(output) exists; \(startOverHint)")
        }
        let w = try FeatureWriter(path: output, header: merged.header, dimension: dim, startOver: true)
        try w.append(features: merged.features, paths: merged.paths, labels: merged.labels, index: merged.index, processed: merged.processed)
        return merged
    }

    private static func describeDifference(_ field: String, _ a: Header, _ b: Header) -> String {
        switch field {
        case "model_sha256": "models \(a.modelPath) and \(b.modelPath)"
        case "layer": "layers '\(a.layer)' and '\(b.layer)'"
        case "pool": "pooling \(a.pool) and \(b.pool)"
        case "preprocess": "preprocessing \(a.preprocess) and \(b.preprocess)"
        case "shard count": "\(a.shardCount) and \(b.shardCount) shards"
        case "image list": "\(a.totalImages) and \(b.totalImages) images, lists \(a.imagesSHA256.prefix(12)) and \(b.imagesSHA256.prefix(12))"
        default: "label names"
        }
    }
}
