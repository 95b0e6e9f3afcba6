/// Merges publishes that queued up on a connection at the same time into one message: the
/// connection's thread, when it takes a batch of commands, sends a run of publishes made with the
/// same packer, to the same exchange and routing key and with the same persistence and reply-to, as the one
/// message `merge` makes of them. A publish that finds the thread idle goes out alone and
/// unchanged, so packing never delays a message. Every merged publish's confirm handler gets the
/// merged message's confirm.
public final class MessagePacker: Sendable {
    /// At most this many messages in one.
    public let maxMessages: Int
    /// At most this many bytes of bodies in one (a message already larger goes alone).
    public let maxBytes: Int
    let merge: @Sendable ([OutboundMessage]) -> OutboundMessage

    /// `merge` gets at least two messages, in the order they were published, all to the same
    /// exchange and routing key; it returns the one message sent in their place.
    public init(maxMessages: Int, maxBytes: Int, merge: @escaping @Sendable ([OutboundMessage]) -> OutboundMessage) {
        self.maxMessages = max(1, maxMessages)
        self.maxBytes = maxBytes
        self.merge = merge
    }

    /// Whether `next` may join a pack that starts with `first`.
    func fits(_ next: OutboundMessage, with first: OutboundMessage) -> Bool {
        next.exchange == first.exchange && next.routingKey == first.routingKey
            && next.properties.persistent == first.properties.persistent
            && next.properties.replyTo == first.properties.replyTo
            && next.resendAfterReconnect == first.resendAfterReconnect
    }
}
