import LoupeTensor

/// GatherElements: out[i] = data[i with coordinate `axis` replaced by indices[i]]; `indices`
/// has data's rank, output has indices' shape; negative indices count from the back.
public struct GatherElements: Operator {
    public static let opType = "GatherElements"
    let axis: Int

    public init(_ context: OpContext) throws {
        axis = try context.attributes.int("axis", 0)
    }

    func check(_ data: [Int], _ indices: [Int]) throws -> Int {
        let a = try normalizeAxis(axis, rank: data.count)
        guard data.count == indices.count, !data.isEmpty else {
            throw LoupeError.shape("GatherElements indices \(describe(indices)) must have the rank of data \(describe(data))")
        }
        return a
    }

    public func infer(_ inputs: [TensorType?], constants: [Tensor?]) throws -> [TensorType] {
        let x = try required(inputs, 0), i = try required(inputs, 1)
        _ = try check(x.shape, i.shape)
        return [TensorType(x.dtype, i.shape)]
    }

    /// Flat data offset read by each output element.
    func sources(_ x: Tensor, _ i: Tensor) throws -> [Int] {
        let a = try check(x.shape, i.shape)
        let values = try Movement.ints(i, "indices")
        let shape = i.shape
        let inStrides = contiguousStrides(x.shape), outStrides = contiguousStrides(shape)
        let n = x.shape[a]
        var source = [Int](repeating: 0, count: values.count)
        for k in 0..<values.count {
            var p = 0
            for d in 0..<shape.count {
                var c = (k / outStrides[d]) % shape[d]
                if d == a {
                    let v = values[k]
                    guard v >= -n, v < n else {
                        throw LoupeError.shape("GatherElements index \(v) is out of range for axis \(a) of data \(describe(x.shape))")
                    }
                    c = v < 0 ? v + n : v
                } else if c >= x.shape[d] {
                    throw LoupeError.shape("GatherElements indices \(describe(shape)) exceed data \(describe(x.shape)) on axis \(d)")
                }
                p += c * inStrides[d]
            }
            source[k] = p
        }
        return source
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try required(inputs, 0), i = try required(inputs, 1)
        return [x.gathering(try sources(x, i), shape: i.shape)]
    }

    /// Backward: each output's gradient is added to the data element it read (repeats add).
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool],
                         rules: BackwardRules) throws -> [Tensor?] {
        guard wanted.first == true else { return Movement.onlyFirst(nil, inputs.count) }
        let x = try required(inputs, 0), i = try required(inputs, 1)
        let source = try sources(x, i)
        let g = try Movement.gradient(gradients, 0, shape: i.shape)
        var dx = try Tensor(zeros: x.shape)
        g.floats.withUnsafeBufferPointer { pg in
            dx.floats.withUnsafeMutableBufferPointer { pd in
                for (k, p) in source.enumerated() { pd[p] += pg[k] }
            }
        }
        return Movement.onlyFirst(dx, inputs.count)
    }
}
