/// Called once when the broker confirms a publish (or it fails for good).
public typealias ConfirmHandler = @Sendable (Result<Void, AMQPError>) -> Void

/// Work handed to the connection thread.
enum ConnectionCommand: Sendable {
    case publish(OutboundMessage, ConfirmHandler?)
    /// A publish that may be merged with others queued with it (see ``MessagePacker``).
    case publishPacked(OutboundMessage, MessagePacker, ConfirmHandler?)
    /// Publishes only while the delivery is still held on this connection (no reconnect since).
    case publishWhileHolding(DeliveryTag, OutboundMessage, ConfirmHandler)
    case ack(DeliveryTag, multiple: Bool)
    case nack(DeliveryTag, multiple: Bool, requeue: Bool)
    case reject(DeliveryTag, requeue: Bool)
    case declare(TopologyItem, CheckedContinuation<Void, any Error>)
    case consume(ConsumerRecord, CheckedContinuation<Void, any Error>)
    case cancelConsumer(tag: String, CheckedContinuation<Void, any Error>)
    case get(queue: String, CheckedContinuation<AMQPDelivery?, any Error>)
    case peek(queue: String, limit: Int, CheckedContinuation<[AMQPDelivery], any Error>)
    case purge(queue: String, CheckedContinuation<UInt32, any Error>)
    case inspect(queue: String, CheckedContinuation<QueueStatus, any Error>)
    case deleteQueue(String, CheckedContinuation<Void, any Error>)
    case close(CheckedContinuation<Void, Never>)

    /// Whether the command runs again after the reconnect when it hit the broken connection: a
    /// publish has already been kept for re-sending (or failed) by the publish itself.
    var isRetriedAfterReconnect: Bool {
        switch self {
        case .publish, .publishPacked, .publishWhileHolding: false
        default: true
        }
    }

    /// Ends the command's waiter with `error`, for commands that can no longer run.
    func fail(_ error: AMQPError) {
        switch self {
        case .publish(_, let handler), .publishPacked(_, _, let handler): handler?(.failure(error))
        case .publishWhileHolding(_, _, let handler): handler(.failure(error))
        case .ack, .nack, .reject: break
        case .declare(_, let c): c.resume(throwing: error)
        case .consume(let record, let c):
            record.onEnd()
            c.resume(throwing: error)
        case .cancelConsumer(_, let c): c.resume(throwing: error)
        case .get(_, let c): c.resume(throwing: error)
        case .peek(_, _, let c): c.resume(throwing: error)
        case .purge(_, let c): c.resume(throwing: error)
        case .inspect(_, let c): c.resume(throwing: error)
        case .deleteQueue(_, let c): c.resume(throwing: error)
        case .close(let c): c.resume()
        }
    }
}

/// A consumer the connection keeps, and re-creates after a reconnect. Its callbacks run on the
/// connection thread.
struct ConsumerRecord: Sendable {
    let tag: String
    let queue: String
    let prefetch: UInt16
    let noAck: Bool
    let onDelivery: @Sendable (AMQPDelivery) -> Void
    let onEnd: @Sendable () -> Void
    /// The broker closed the channel: every delivery it handed this consumer and that was not
    /// acknowledged went back to its queue. Called before the consumer is re-created.
    var onDeliveriesLost: (@Sendable (AMQPError) -> Void)? = nil
}

/// A publish waiting for the broker's confirm.
struct PendingPublish: Sendable {
    let message: OutboundMessage
    let onConfirm: ConfirmHandler?
    /// How many times the broker closed the connection while this publish was unconfirmed.
    var brokerClosures = 0
}
