import LoupeGraph
import LoupeTensor

/// Adding intermediate tensors as graph outputs, after the existing ones. Names are tensor
/// names or node names (a node's first output); the graph's computation is unchanged.
public enum Expose {
    public static func apply(_ graph: Graph, outputs names: [String]) throws -> Graph {
        var g = graph
        try g.sortTopologically()
        var added: [String] = []
        for name in names {
            let t = try g.resolveTensor(name, argument: "`outputs`")
            if g.outputs.contains(where: { $0.name == t }) || added.contains(t) { continue }
            added.append(t)
        }
        g.outputs += try g.outputInfos(added)
        try g.validate()
        return g
    }
}
