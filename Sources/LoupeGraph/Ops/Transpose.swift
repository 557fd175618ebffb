import LoupeTensor

/// Transpose: out.shape[i] = in.shape[perm[i]]; `perm` defaults to the reversed axes.
///
/// Kernel: a strided copy with strides permuted (`Movement.copyStrided`), which copies whole
/// runs when the innermost axes keep their order. A permutation that only moves size-1 axes
/// is a reshape and copies nothing.
public struct Transpose: Operator {
    public static let opType = "Transpose"
    let perm: [Int]?

    public init(_ context: OpContext) throws {
        perm = try context.attributes.ints("perm")
    }

    func permutation(_ rank: Int) throws -> [Int] {
        guard let perm else { return Array((0..<rank).reversed()) }
        guard perm.count == rank, Set(perm) == Set(0..<rank) else {
            throw LoupeError.invalid("Transpose perm \(perm) is not a permutation of the \(rank) axes")
        }
        return perm
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0)
        let p = try permutation(x.shape.count)
        return [TensorType(x.dtype, p.map { x.shape[$0] })]
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0)
        let p = try permutation(x.rank)
        let shape = p.map { x.shape[$0] }
        let moved = p.filter { x.shape[$0] != 1 }
        if moved == moved.sorted() { return [x.reshaped(shape)] }
        let s = contiguousStrides(x.shape)
        return [try Movement.strided(x, shape: shape, strides: p.map { s[$0] })]
    }

    /// Backward: the output gradient transposed by the inverse permutation.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        guard wanted.first == true else { return Movement.onlyFirst(nil, inputs.count) }
        let x = try required(inputs, 0)
        let p = try permutation(x.rank)
        let g = try Movement.gradient(gradients, 0, shape: outputs[0].shape)
        let gs = contiguousStrides(g.shape)
        var strides = [Int](repeating: 0, count: x.rank)
        for (i, d) in p.enumerated() { strides[d] = gs[i] }
        let moved = p.filter { x.shape[$0] != 1 }
        if moved == moved.sorted() { return Movement.onlyFirst(g.reshaped(x.shape), inputs.count) }
        return Movement.onlyFirst(try Movement.strided(g, shape: x.shape, strides: strides), inputs.count)
    }
}
