import LoupeTensor

/// An input dimension the model file leaves dynamic, other than the batch size (the first
/// dimension): H and W in `[N, 3, H, W]`, or the -1s in Paddle2ONNX's `[-1, 3, -1, -1]`.
/// Nothing in the graph fixes it, so anything that needs concrete shapes needs it given.
public struct DynamicDimension: Sendable, Equatable {
    public var input: String
    public var axis: Int
    /// The file's name for it (`H`), or "" when it has none (dim_value -1 or 0, or no value).
    public var symbol: String

    public init(input: String, axis: Int, symbol: String) {
        self.input = input
        self.axis = axis
        self.symbol = symbol
    }

    /// `H (axis 2)`, or `axis 2` for a dimension without a name.
    public var label: String { symbol.isEmpty ? "axis \(axis)" : "\(symbol) (axis \(axis))" }
}

extension Graph {
    /// The dynamic dimensions past the first of every input not named in `given` (inputs
    /// whose shapes the caller sets). A dynamic first dimension is the batch size, which
    /// summaries take as 1, so it is not listed.
    public func dynamicDimensions(except given: Set<String> = []) -> [DynamicDimension] {
        inputs.filter { !given.contains($0.name) }.flatMap { i in
            (i.dims ?? []).enumerated().dropFirst().compactMap { axis, d -> DynamicDimension? in
                if case .symbol(let s) = d { return DynamicDimension(input: i.name, axis: axis, symbol: s) }
                return nil
            }
        }
    }

    /// One phrase per input for messages: `input 'x' [N, 3, H, W] has dynamic H (axis 2) and
    /// W (axis 3)`.
    public func describe(_ dynamic: [DynamicDimension]) -> String {
        var byInput: [(String, [DynamicDimension])] = []
        for d in dynamic {
            if let k = byInput.firstIndex(where: { $0.0 == d.input }) { byInput[k].1.append(d) } else { byInput.append((d.input, [d])) }
        }
        return byInput.map { name, dims in
            let declared = inputs.first { $0.name == name }?.dims ?? []
            let labels = dims.map(\.label)
            let list = labels.count == 1 ? labels[0] : labels.dropLast().joined(separator: ", ") + " and " + labels.last!
            return "input '\(name)' [\(declared.map(\.description).joined(separator: ", "))] has dynamic \(list)"
        }.joined(separator: "; ")
    }
}
