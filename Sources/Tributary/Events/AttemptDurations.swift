/// How long a process's task attempts took, as a Prometheus histogram: counts per bucket, their
/// sum and count. A worker keeps one from its start and sends it with each heartbeat, so the
/// server's `/metrics` can serve it (the worker needs no HTTP server of its own).
public struct AttemptDurations: Codable, Sendable, Equatable {
    /// Upper bounds of the buckets, in seconds (a last bucket, +Inf, takes the rest).
    public static let bounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

    /// Attempts per bucket (not cumulative): `bounds.count + 1` of them, the last for +Inf.
    public var counts: [Int]
    /// Seconds of every attempt, added.
    public var sum: Double
    public var count: Int

    public init() {
        counts = Array(repeating: 0, count: Self.bounds.count + 1)
        sum = 0
        count = 0
    }

    /// Counts one attempt that took `seconds`.
    public mutating func observe(_ seconds: Double) {
        let bucket = Self.bounds.firstIndex { seconds <= $0 } ?? Self.bounds.count
        counts[bucket] += 1
        sum += seconds
        count += 1
    }

    /// Attempts that took at most each bound, then all of them (Prometheus's `le` buckets).
    public var cumulativeCounts: [Int] {
        var total = 0
        return counts.map { total += $0; return total }
    }
}
