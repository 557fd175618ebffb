import LoupeTensor

/// Builds operators for graph nodes once and caches them by node name. Shape inference
/// itself runs in `foldConstants(inputTypes:)`, one sweep together with folding.
public final class OperatorCache: @unchecked Sendable {
    private let cache = Locked<[String: any Operator]>([:])
    public let opset: Int
    public let domainOpsets: [String: Int]
    public init(opset: Int, domainOpsets: [String: Int] = [:]) {
        self.opset = opset
        self.domainOpsets = domainOpsets
    }

    public func op(for node: Node) throws -> any Operator {
        // A node with a fused activation or residual add, or a carried output, is a different
        // operator than the same node unfused.
        let clip = node.attributes[fusedClipAttribute] != nil, add = node.attributes[fusedAddAttribute] != nil
        let carry = node.attributes[carriedLayoutAttribute] != nil
        let key = !clip && !add && !carry ? node.name
            : node.name + "\u{0}fused" + (clip ? "c" : "") + (add ? "a" : "") + (carry ? "l" : "")
        if let o = cache.value[key] { return o }
        let o = try OperatorRegistry.make(node, opset: opset, domainOpsets: domainOpsets)
        return cache.mutate { c in
            if let first = c[key] { return first }
            c[key] = o
            return o
        }
    }
}
