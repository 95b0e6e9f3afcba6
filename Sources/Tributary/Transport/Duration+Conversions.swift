import Foundation

extension Duration {
    /// The duration in whole milliseconds (rounded down), as AMQP arguments and headers take it.
    var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

extension Duration {
    /// The duration in seconds, for `Date` arithmetic and APIs that take a `TimeInterval`.
    public var timeInterval: TimeInterval {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
