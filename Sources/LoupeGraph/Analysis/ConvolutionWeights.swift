import LoupeTensor

/// The weights of one convolution layer, as `loupe filters` and the report's first-layer
/// picture draw them: W is [M, C/group, kH, kW] for Conv, [C, M/group, kH, kW] for
/// ConvTranspose.
extension Graph {
    /// The convolution `layer` names (a node name, an output tensor name, or the name of a
    /// layer imported as several nodes, `conv2d_7` for `conv2d_7/conv`), or the first one
    /// when `layer` is nil, with its stored weights. Constants are folded on a copy first, so
    /// weights computed from stored tensors are found too. `transposed` admits ConvTranspose.
    public func convolutionWeights(layer: String? = nil, transposed: Bool = true) throws -> (node: Node, weights: Tensor) {
        var g = self
        try g.sortTopologically()
        try g.foldConstants()
        let convs = g.nodes.filter { $0.opType == "Conv" || (transposed && $0.opType == "ConvTranspose") }
        guard !convs.isEmpty else { throw LoupeError.invalid("the model has no Conv layer") }
        let node: Node
        if let layer {
            guard let n = convs.first(where: { $0.name == layer || $0.outputs.contains(layer) })
                    ?? convs.first(where: { $0.name.hasPrefix(layer + "/") }) else {
                let names = convs.prefix(40).map(\.name).joined(separator: ", ")
                throw LoupeError(.invalidArgument, "no Conv layer named '\(layer)'; convolution layers: \(names)\(convs.count > 40 ? ", …" : "")")
            }
            node = n
        } else {
            node = convs[0]
        }
        guard node.inputs.count > 1, let w = g.initializers[node.inputs[1]] else {
            throw LoupeError.unsupported("\(node.label): its weights are computed at run time, not stored in the file")
        }
        return (node, w)
    }
}
