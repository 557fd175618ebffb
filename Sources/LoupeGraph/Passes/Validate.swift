import LoupeTensor

extension Graph {
    /// Checks the IR invariants every pass must keep: nodes in topological order, every
    /// input defined exactly once (graph input, initializer or an earlier node's output),
    /// every graph output defined, and unique node names. Used after every pass in tests.
    public func validate() throws {
        var defined = Set<String>(inputs.map(\.name))
        for k in initializers.keys {
            if defined.contains(k) { throw LoupeError.invalid("'\(k)' is both a graph input and an initializer") }
            defined.insert(k)
        }
        var names = Set<String>()
        for n in nodes {
            guard names.insert(n.name).inserted else { throw LoupeError.invalid("duplicate node name '\(n.name)'") }
            for i in n.inputs where !i.isEmpty {
                guard defined.contains(i) else {
                    throw LoupeError.invalid("\(n.label) reads '\(i)', which no earlier node, input or initializer defines")
                }
            }
            for o in n.outputs where !o.isEmpty {
                guard defined.insert(o).inserted else { throw LoupeError.invalid("\(n.label) redefines tensor '\(o)'") }
            }
        }
        for o in outputs where !defined.contains(o.name) {
            throw LoupeError.invalid("graph output '\(o.name)' is never computed")
        }
    }
}
