import LoupeGraph
import LoupeTensor

/// Helpers every rewrite shares: naming tensors by node or tensor name, the concrete types of
/// every tensor, declared output types that keep a symbolic batch, and the checks that a cut
/// still leaves a path from the input to each output.
extension Graph {
    /// Every tensor a node computes, in node order.
    var computedTensors: [String] { nodes.flatMap { $0.outputs.filter { !$0.isEmpty } } }

    /// The tensor `name` refers to: a tensor computed by a node, or the first output of the
    /// node called `name`. Unknown names throw, listing the candidates closest to `name`;
    /// `argument` is how the message names the parameter that gave `name` (`` `at` ``).
    public func resolveTensor(_ name: String, argument: String = "`at`") throws -> String {
        if producers()[name] != nil { return name }
        if let n = nodes.first(where: { $0.name == name }), let o = n.outputs.first(where: { !$0.isEmpty }) { return o }
        if inputs.contains(where: { $0.name == name }) {
            throw LoupeError(.invalidArgument, "\(argument) '\(name)' is the graph input; name a layer or a tensor a layer computes")
        }
        let candidates = Array(Set(nodes.map(\.name) + computedTensors))
        let closest = candidates.sorted {
            let (a, b) = (editDistance(name, $0), editDistance(name, $1))
            return a != b ? a < b : $0 < $1
        }
        let shown = closest.prefix(10).map { "'\($0)'" }.joined(separator: ", ")
        let more = closest.count > 10 ? " (\(closest.count - 10) more; `Graph.nodes` lists them all)" : ""
        throw LoupeError(.invalidArgument, "\(argument) '\(name)' names no layer or tensor of the model; closest: \(shown)\(more)")
    }

    /// The concrete type of every tensor when the graph inputs have batch size `batch`
    /// (symbolic dimensions other than the first become 1). Constant subgraphs are folded on
    /// a copy, so the graph itself is unchanged.
    public func tensorTypes(batch: Int = 1) throws -> [String: TensorType] {
        var g = self
        try g.sortTopologically()
        var feeds: [String: TensorType] = [:]
        for i in inputs {
            guard let dims = i.dims else {
                throw LoupeError(.unsupported, "graph input '\(i.name)' declares no shape, so the shapes of the tensors cannot be inferred")
            }
            let shape = dims.enumerated().map { k, d in d.value ?? (k == 0 ? batch : 1) }
            feeds[i.name] = TensorType(i.dtype, shape)
        }
        return try g.foldConstants(inputTypes: feeds)
    }

    /// Declared types for `names` as new graph outputs: inferred shapes, with every dimension
    /// that follows the batch size written as the input's batch symbol (or `batch`).
    public func outputInfos(_ names: [String]) throws -> [ValueInfo] {
        let t1 = try tensorTypes(batch: 1)
        let batchIsSymbolic = inputs.contains { $0.dims?.first?.value == nil }
        let t2 = batchIsSymbolic ? try tensorTypes(batch: 2) : t1
        let symbol: String = inputs.compactMap { i -> String? in
            if case .symbol(let s)? = i.dims?.first, !s.isEmpty { return s }
            return nil
        }.first ?? "batch"
        return try names.map { name in
            guard let a = t1[name], let b = t2[name] else {
                throw LoupeError.invalid("the type of tensor '\(name)' cannot be inferred")
            }
            let dims: [Dim] = zip(a.shape, b.shape).map { x, y in x == y ? .fixed(x) : .symbol(symbol) }
            return ValueInfo(name: name, dtype: a.dtype, dims: dims)
        }
    }

    /// Tensors that depend on at least one graph input.
    func inputDependent() -> Set<String> {
        var dep = Set(inputs.map(\.name))
        for n in nodes where n.inputs.contains(where: { dep.contains($0) }) {
            for o in n.outputs where !o.isEmpty { dep.insert(o) }
        }
        return dep
    }

    /// Throws unless every graph output depends on a graph input (a cut at a constant leaves
    /// no path from the input to the output).
    func requirePathsFromInputs(_ what: String) throws {
        var g = self
        try g.sortTopologically()
        let dep = g.inputDependent()
        for o in outputs where !dep.contains(o.name) {
            let inputs = self.inputs.map { "'\($0.name)'" }.joined(separator: ", ")
            throw LoupeError(.invalidArgument, "\(what): the output '\(o.name)' does not depend on the input \(inputs) (it is a constant), so the cut leaves no path from input to output")
        }
        let used = Set(nodes.flatMap(\.inputs))
        for i in inputs where !used.contains(i.name) && !outputs.contains(where: { $0.name == i.name }) {
            throw LoupeError(.invalidArgument, "\(what): nothing reads the input '\(i.name)' any more, so the cut leaves no path from input to output")
        }
    }

    /// A node or tensor name not used yet, derived from `base`.
    func freshName(_ base: String, taken: Set<String>) -> String {
        if !taken.contains(base) { return base }
        var k = 1
        while taken.contains("\(base)_\(k)") { k += 1 }
        return "\(base)_\(k)"
    }

    /// Every node, tensor and initializer name in use.
    var allNames: Set<String> {
        var s = Set(nodes.map(\.name))
        for n in nodes { s.formUnion(n.inputs); s.formUnion(n.outputs) }
        s.formUnion(inputs.map(\.name))
        s.formUnion(outputs.map(\.name))
        s.formUnion(initializers.keys)
        return s
    }

    /// Tensor name → indices of the nodes reading it.
    func consumers() -> [String: [Int]] {
        var c: [String: [Int]] = [:]
        for (i, n) in nodes.enumerated() { for x in Set(n.inputs) where !x.isEmpty { c[x, default: []].append(i) } }
        return c
    }
}

/// Levenshtein distance, for "closest names first".
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.utf8), b = Array(b.utf8)
    if a.isEmpty { return b.count }
    var prev = Array(0...b.count), cur = prev
    for i in 1...a.count {
        cur[0] = i
        for j in stride(from: 1, through: b.count, by: 1) {
            cur[j] = Swift.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&prev, &cur)
    }
    return prev[b.count]
}
