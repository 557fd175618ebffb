import LoupeTensor

/// A dense set of feature vectors: `rows` items of `columns` values each, row-major float32
/// (`values[i * columns + j]` is value j of item i), as a features file stores them.
///
/// The image-set analyses (nearest neighbours, t-SNE, the atlas) take their input in this
/// form; `LoupeFormats` reads it from a features file.
public struct FeatureMatrix: Sendable {
    public let rows: Int
    public let columns: Int
    public var values: [Float]

    /// Fails (a programmer error) unless `values.count == rows * columns`.
    public init(rows: Int, columns: Int, values: [Float]) {
        precondition(rows >= 0 && columns >= 0 && values.count == rows * columns,
                     "FeatureMatrix: \(values.count) values for \(rows) x \(columns)")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// Item `i`'s values.
    public func row(_ i: Int) -> ArraySlice<Float> { values[(i * columns)..<((i + 1) * columns)] }

    /// Each row's squared Euclidean norm, accumulated in float64.
    public func squaredNorms() -> [Double] {
        var out = [Double](repeating: 0, count: rows)
        values.withUnsafeBufferPointer { v in
            for i in 0..<rows {
                let base = v.baseAddress! + i * columns
                var s = 0.0
                for j in 0..<columns { s += Double(base[j]) * Double(base[j]) }
                out[i] = s
            }
        }
        return out
    }

    /// The rows scaled to unit Euclidean length (a zero row stays zero): cosine similarity
    /// becomes a dot product.
    public func normalizedRows() -> FeatureMatrix {
        let norms = squaredNorms()
        var out = values
        for i in 0..<rows where norms[i] > 0 {
            let s = Float(1 / norms[i].squareRoot())
            for j in 0..<columns { out[i * columns + j] *= s }
        }
        return FeatureMatrix(rows: rows, columns: columns, values: out)
    }
}
