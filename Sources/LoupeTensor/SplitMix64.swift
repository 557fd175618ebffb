/// A small deterministic random generator (SplitMix64, Steele, Lea and Flood, OOPSLA 2014):
/// benchmark inputs, test data and fuzzing, reproducible from a seed on every platform.
public struct SplitMix64: Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func nextFloat() -> Float { Float(next() >> 40) / Float(1 << 24) }

    /// Uniform in 0..<n (n > 0).
    public mutating func int(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
}
