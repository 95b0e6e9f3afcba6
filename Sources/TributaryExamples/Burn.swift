import Tributary

/// Burns CPU with a fixed integer loop and returns a checksum, so the loop cannot be skipped.
public struct Burn: TaskDefinition {
    public static let name = "burn"
    public init() {}
    public func run(_ iterations: Int, context: TaskContext) async throws -> UInt64 {
        Self.spin(iterations)
    }

    /// The loop itself; the benchmark calibrates `iterations` for ~10 ms on this machine.
    public static func spin(_ iterations: Int) -> UInt64 {
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in 0..<UInt64(max(iterations, 0)) {
            x = (x ^ i) &* 0xBF58_476D_1CE4_E5B9
            x ^= x >> 29
        }
        return x
    }
}
