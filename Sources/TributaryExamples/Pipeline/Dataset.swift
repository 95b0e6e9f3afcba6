/// A small deterministic random generator (SplitMix64): the same seed gives the same numbers, so
/// every run sees the same data (and a fuzz run can be replayed from its seed).
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    mutating func unit() -> Double {
        Double(next() >> 11) / Double(1 << 53) * 2 - 1
    }
}

/// The simulated source: page `p` holds 40 rows of `x1,x2,x3,y` CSV with
/// y = 3 + 2·x1 − x2 + 0.5·x3 + noise; a few rows are malformed, as real exports are.
enum SimulatedSource {
    static let rowsPerPage = 40

    static func page(_ page: Int) -> [String] {
        var random = SplitMix64(seed: UInt64(page) &* 7919 &+ 17)
        return (0..<rowsPerPage).map { index in
            let x = (random.unit(), random.unit(), random.unit())
            let noise = random.unit() * 0.1
            let y = 3 + 2 * x.0 - x.1 + 0.5 * x.2 + noise
            switch (page * rowsPerPage + index) % 23 {
            case 5: return "\(x.0),\(x.1),n/a,\(y)"
            case 11: return "\(x.0),\(x.1),\(x.2)"
            default: return "\(x.0),\(x.1),\(x.2),\(y)"
            }
        }
    }
}
