import LoupeTensor

/// Test data from a fixed seed (LoupeTensor's SplitMix64).
public struct SeededRandom {
    public var base: SplitMix64
    public init(seed: UInt64) { base = SplitMix64(seed: seed) }
    public mutating func next() -> UInt64 { base.next() }
    public mutating func uniform(_ lo: Float, _ hi: Float) -> Float {
        lo + (hi - lo) * base.nextFloat()
    }
    /// Values in ±[lo, hi] away from zero (keeps ReLU inputs off the kink).
    public mutating func awayFromZero(_ lo: Float, _ hi: Float) -> Float {
        let v = uniform(lo, hi)
        return next() & 1 == 0 ? v : -v
    }
    public mutating func tensor(_ shape: [Int], _ lo: Float = -1, _ hi: Float = 1) -> Tensor {
        Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in uniform(lo, hi) })
    }
}

/// The kernel tests' linear congruential generator (Knuth's MMIX constants): values in
/// [-1, 1] in steps of 1/1000 and small integers, the same sequence for a seed everywhere.
public struct LCG {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }
    public mutating func next() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int((state >> 33) % 2001) - 1000) / 1000
    }
    public mutating func int(_ n: Int) -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int((state >> 33) % UInt64(n))
    }
    public mutating func array(_ n: Int) -> [Float] { (0..<n).map { _ in next() } }
}
