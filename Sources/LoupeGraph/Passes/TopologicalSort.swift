import LoupeTensor

extension Graph {
    /// Reorders `nodes` so that every node comes after the producers of its inputs
    /// (Kahn's algorithm, stable with respect to the file's order). Throws on a cycle,
    /// naming the nodes that are part of it or wait on it.
    public mutating func sortTopologically() throws {
        let producer = producers()
        var pending = [Int](repeating: 0, count: nodes.count)
        var consumers = [[Int]](repeating: [], count: nodes.count)
        for (i, n) in nodes.enumerated() {
            var deps = Set<Int>()
            for name in n.inputs where !name.isEmpty {
                if let p = producer[name], p != i { deps.insert(p) } else if producer[name] == i {
                    throw LoupeError.invalid("\(n.label) consumes its own output '\(name)' (a cycle)")
                }
            }
            pending[i] = deps.count
            for d in deps { consumers[d].append(i) }
        }
        var ready = (0..<nodes.count).filter { pending[$0] == 0 }.reversed() as [Int]
        var order: [Int] = []
        order.reserveCapacity(nodes.count)
        while let i = ready.popLast() {
            order.append(i)
            var released: [Int] = []
            for c in consumers[i] {
                pending[c] -= 1
                if pending[c] == 0 { released.append(c) }
            }
            ready.append(contentsOf: released.sorted(by: >))
            ready.sort(by: >)
        }
        guard order.count == nodes.count else {
            let stuck = (0..<nodes.count).filter { pending[$0] > 0 }.prefix(5).map { nodes[$0].label }
            throw LoupeError.invalid("the graph has a cycle; nodes that never become ready include \(stuck.joined(separator: ", "))")
        }
        nodes = order.map { nodes[$0] }
    }
}
