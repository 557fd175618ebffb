import LoupeTensor

/// Leave-one-out k-nearest-neighbour classification accuracy of a labelled feature set: how
/// well the feature space groups what it should (Cover & Hart, "Nearest neighbor pattern
/// classification", IEEE Trans. Inf. Theory 13(1), 1967).
///
/// Each labelled item is classified by the majority vote of its k nearest other labelled
/// items (`NearestNeighbors`, exact); a tie between labels goes to the tied label met first
/// in the neighbour list, that is the label of the nearest neighbour among the tied ones
/// (the nearest neighbour's own label whenever it is one of them). Items labelled -1 (unknown)
/// take no part, neither as queries nor as neighbours.
public struct KNNAccuracy: Sendable, Equatable {
    public struct PerClass: Sendable, Equatable {
        public var label: Int
        public var correct: Int
        public var total: Int
        public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) }
    }

    public var k: Int
    public var correct: Int
    /// The labelled items (the queries).
    public var total: Int
    /// One entry per label present, in increasing label order.
    public var perClass: [PerClass]
    public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) }

    /// The voted label of an ordered neighbour list (nearest first); `labels[i]` is item i's label.
    public static func vote(_ neighbors: [Neighbor], labels: [Int]) -> Int {
        var counts: [Int: Int] = [:]
        for n in neighbors { counts[labels[n.index], default: 0] += 1 }
        let best = counts.values.max() ?? 0
        // The first label in nearest-first order with the highest count.
        for n in neighbors where counts[labels[n.index]] == best { return labels[n.index] }
        return -1
    }
}

/// The leave-one-out kNN accuracy of `features` labelled by `labels` (one per row, -1 for
/// unknown); see `KNNAccuracy`. Throws when fewer than k + 1 items are labelled.
public func leaveOneOutAccuracy(features: FeatureMatrix, labels: [Int], k: Int, metric: DistanceMetric,
                                progress: ((Int, Int) -> Void)? = nil) throws -> KNNAccuracy {
    precondition(labels.count == features.rows, "leaveOneOutAccuracy: \(labels.count) labels for \(features.rows) items")
    let kept = labels.indices.filter { labels[$0] >= 0 }
    guard !kept.isEmpty else { throw LoupeError(.invalidArgument, "no item has a label (all are -1)") }
    guard k >= 1, k < kept.count else {
        throw LoupeError(.invalidArgument, "k = \(k) neighbours asked for, but the set has \(kept.count) labelled item\(kept.count == 1 ? "" : "s"), so at most \(kept.count - 1) besides each one")
    }
    var values: [Float] = []
    values.reserveCapacity(kept.count * features.columns)
    for i in kept { values += features.row(i) }
    let subset = FeatureMatrix(rows: kept.count, columns: features.columns, values: values)
    let subLabels = kept.map { labels[$0] }
    let nn = NearestNeighbors(features: subset, metric: metric)
    let all = try nn.search(queries: subset, k: k, excluding: (0..<kept.count).map { $0 }, progress: progress)
    var byClass: [Int: KNNAccuracy.PerClass] = [:]
    var correct = 0
    for (i, neighbors) in all.enumerated() {
        let truth = subLabels[i]
        let hit = KNNAccuracy.vote(neighbors, labels: subLabels) == truth
        byClass[truth, default: KNNAccuracy.PerClass(label: truth, correct: 0, total: 0)].total += 1
        if hit {
            byClass[truth]!.correct += 1
            correct += 1
        }
    }
    return KNNAccuracy(k: k, correct: correct, total: kept.count,
                       perClass: byClass.keys.sorted().map { byClass[$0]! })
}
