/// At most `count` task runs with a tag start in any window of `period` (Prefect's rate limits):
/// `Tributary(broker: url, rateLimits: ["api": .perSecond(5)])`. Retries count as starts.
public struct RateLimit: Sendable, Equatable {
    public var count: Int
    public var period: Duration

    public init(_ count: Int, per period: Duration) {
        self.count = count
        self.period = period
    }

    public static func perSecond(_ count: Int) -> RateLimit { RateLimit(count, per: .seconds(1)) }
    public static func perMinute(_ count: Int) -> RateLimit { RateLimit(count, per: .seconds(60)) }

    /// Why this limit cannot be used, if it cannot.
    func problem(tag: String) -> String? {
        guard count >= 1 else { return "the rate limit of tag '\(tag)' allows \(count) runs; it must allow 1 or more" }
        guard period > .zero else { return "the rate limit of tag '\(tag)' has a period of \(period); it must be positive" }
        return nil
    }
}
