import Foundation
import LoupeTensor

/// The random numbers of one visualisation, all from one seed: the initial spectrum or pixels
/// and every step's transformation, so that a seed gives the same picture on every machine.
/// SplitMix64 (LoupeTensor) underneath; normals by the Box–Muller transform.
public struct VisualizationRandom: Sendable {
    var base: SplitMix64
    public init(seed: UInt64) { base = SplitMix64(seed: seed) }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double { Double(base.next() >> 11) / 9_007_199_254_740_992 }

    /// A standard normal sample (Box–Muller; one of the pair is used).
    public mutating func normal() -> Float {
        let u1 = 1 - uniform()   // (0, 1]
        let u2 = uniform()
        return Float((-2 * Foundation.log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// One of `values`, each equally likely (NumPy's `np.random.choice` on a list).
    public mutating func choice<T>(_ values: [T]) -> T { values[base.int(values.count)] }
}
