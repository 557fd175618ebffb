import LoupeTensor

extension Graph {
    /// Removes nodes whose outputs reach no graph output, and initializers nothing reads.
    public mutating func eliminateDeadNodes(keeping extra: Set<String> = []) {
        var live = Set(outputs.map(\.name)).union(extra)
        var keep = [Bool](repeating: false, count: nodes.count)
        for i in stride(from: nodes.count - 1, through: 0, by: -1) {
            if nodes[i].outputs.contains(where: { live.contains($0) }) {
                keep[i] = true
                for x in nodes[i].inputs where !x.isEmpty { live.insert(x) }
            }
        }
        nodes = nodes.indices.filter { keep[$0] }.map { nodes[$0] }
        initializers = initializers.filter { live.contains($0.key) }
    }
}
