extension AMQPError {
    /// When the broker closed a channel because a delivery stayed unacknowledged past its
    /// `consumer_timeout` (RabbitMQ 3.8.15 and later: 406 PRECONDITION_FAILED "delivery
    /// acknowledgement on channel 1 timed out. Timeout value used: 1800000 ms ..."), the timeout it
    /// used; nil for any other error. `.zero` when the broker did not say the value.
    public var deliveryAcknowledgementTimeout: Duration? {
        guard kind == .channelClosedByBroker, replyCode == 406, let text = replyText,
              text.contains("delivery acknowledgement"), text.contains("timed out") else { return nil }
        guard let range = text.firstRange(of: "Timeout value used: ") else { return .zero }
        let digits = text[range.upperBound...].prefix { $0.isNumber }
        return Int64(digits).map { .milliseconds($0) } ?? .zero
    }
}
