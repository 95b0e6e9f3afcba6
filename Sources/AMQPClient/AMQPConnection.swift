import Foundation
import Logging
import Synchronization

/// A connection to an AMQP 0-9-1 broker over rabbitmq-c.
///
/// The C connection lives on a thread of its own; every method here only hands work to that thread,
/// so no Swift concurrency thread ever blocks in a C call. Publishes are confirmed by the broker
/// asynchronously; deliveries arrive on an `AsyncStream`. A connection that breaks is re-opened with
/// backoff, its exchanges, queues, bindings and consumers restored, and unconfirmed publishes re-sent.
public final class AMQPConnection: Sendable {
    private let loop: ConnectionLoop
    private let consumerCounter = Atomic<Int>(0)

    private init(loop: ConnectionLoop) {
        self.loop = loop
    }

    /// Connects and logs in. Throws a clear ``AMQPError`` when the broker is unreachable, refuses
    /// the credentials, or the vhost does not exist.
    public static func connect(_ configuration: AMQPConfiguration,
                               logger: Logger = Logger(label: "tributary.amqp")) async throws -> AMQPConnection {
        let loop = ConnectionLoop(configuration: configuration, logger: logger)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let thread = Thread {
                loop.run { error in
                    if let error { continuation.resume(throwing: error) } else { continuation.resume() }
                }
            }
            thread.name = "amqp-\(configuration.host):\(configuration.port)"
            thread.start()
        }
        return AMQPConnection(loop: loop)
    }

    /// Connects to a broker URL such as `amqp://guest:guest@localhost:5672/`.
    public static func connect(url: String, logger: Logger = Logger(label: "tributary.amqp")) async throws
        -> AMQPConnection {
        try await connect(AMQPConfiguration(url: url), logger: logger)
    }

    /// Declares an exchange; it is declared again after a reconnect.
    public func declare(_ exchange: ExchangeDeclaration) async throws {
        try await declare(.exchange(exchange))
    }

    /// Declares a queue; it is declared again after a reconnect.
    public func declare(_ queue: QueueDeclaration) async throws {
        try await declare(.queue(queue))
    }

    /// Binds a queue to an exchange; bound again after a reconnect.
    public func bind(_ binding: QueueBinding) async throws {
        try await declare(.binding(binding))
    }

    private func declare(_ item: TopologyItem) async throws {
        try await withCheckedThrowingContinuation { loop.submit(.declare(item, $0)) }
    }

    /// Publishes a message; `onConfirm` runs (on the connection thread, so keep it short) once the
    /// broker has confirmed it, or it failed for good.
    public func publish(_ message: OutboundMessage, onConfirm: ConfirmHandler? = nil) {
        loop.submit(.publish(message, onConfirm))
    }

    /// Publishes a message that the connection may merge with others published with the same
    /// `packer` while its thread was busy (see ``MessagePacker``); `onConfirm` hears the confirm of
    /// the message that carried it.
    public func publish(_ message: OutboundMessage, packer: MessagePacker, onConfirm: ConfirmHandler? = nil) {
        loop.submit(.publishPacked(message, packer, onConfirm))
    }

    /// Publishes a message only if the delivery `held` is still this connection's to settle (no
    /// reconnect or channel closure has handed it back since); otherwise, and if the connection
    /// breaks before the confirm, `onConfirm` gets a `connectionLost` error and nothing is re-sent.
    public func publish(_ message: OutboundMessage, whileHolding held: DeliveryTag, onConfirm: @escaping ConfirmHandler) {
        loop.submit(.publishWhileHolding(held, message, onConfirm))
    }

    /// Publishes a message and waits for the broker's confirm.
    public func publishConfirmed(_ message: OutboundMessage) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            loop.submit(.publish(message, { result in continuation.resume(with: result) }))
        }
    }

    /// Starts consuming from a queue with manual acknowledgements and at most `prefetch` unacked
    /// deliveries. Fails with NOT_FOUND if the queue does not exist.
    public func consume(queue: String, prefetch: UInt16) async throws -> AMQPConsumer {
        let (stream, continuation) = AsyncStream.makeStream(of: AMQPDelivery.self)
        let tag = try await consume(queue: queue, prefetch: prefetch, onDelivery: { continuation.yield($0) },
                                    onEnd: { continuation.finish() })
        return AMQPConsumer(tag: tag, queue: queue, deliveries: stream)
    }

    /// Starts consuming with callbacks instead of a stream: `onDelivery` runs on the connection
    /// thread for each delivery (keep it short: hand the work on), `onEnd` once the consumer ends.
    /// With `noAck` the broker forgets each message as it sends it. `onDeliveriesLost` (on the
    /// connection thread too) hears the broker's reason when it closed the channel and so took back
    /// every unacknowledged delivery; acknowledging those is then a no-op, and the consumer goes on
    /// on the re-opened channel. Returns the consumer tag.
    public func consume(queue: String, prefetch: UInt16, noAck: Bool = false,
                        onDelivery: @escaping @Sendable (AMQPDelivery) -> Void,
                        onEnd: @escaping @Sendable () -> Void,
                        onDeliveriesLost: (@Sendable (AMQPError) -> Void)? = nil) async throws -> String {
        let tag = "trib-\(ProcessInfo.processInfo.processIdentifier)-\(consumerCounter.add(1, ordering: .relaxed).newValue)"
        let record = ConsumerRecord(tag: tag, queue: queue, prefetch: prefetch, noAck: noAck, onDelivery: onDelivery,
                                    onEnd: onEnd, onDeliveriesLost: onDeliveriesLost)
        try await withCheckedThrowingContinuation { loop.submit(.consume(record, $0)) }
        return tag
    }

    /// Stops a consumer: the broker sends it nothing more, and its delivery stream finishes after
    /// what was already delivered.
    public func cancel(_ consumer: AMQPConsumer) async throws {
        try await cancel(consumerTag: consumer.tag)
    }

    /// Stops the consumer with this tag.
    public func cancel(consumerTag: String) async throws {
        try await withCheckedThrowingContinuation { loop.submit(.cancelConsumer(tag: consumerTag, $0)) }
    }

    /// Acknowledges a delivery (and with `multiple`, every earlier one).
    public func ack(_ tag: DeliveryTag, multiple: Bool = false) {
        loop.submit(.ack(tag, multiple: multiple))
    }

    /// Negatively acknowledges a delivery; `requeue: false` dead-letters it if the queue has a DLX.
    public func nack(_ tag: DeliveryTag, multiple: Bool = false, requeue: Bool) {
        loop.submit(.nack(tag, multiple: multiple, requeue: requeue))
    }

    /// Rejects one delivery; `requeue: false` dead-letters it if the queue has a DLX.
    public func reject(_ tag: DeliveryTag, requeue: Bool) {
        loop.submit(.reject(tag, requeue: requeue))
    }

    /// Takes one message off a queue (acknowledged at once), or nil if it is empty.
    public func get(queue: String) async throws -> AMQPDelivery? {
        try await withCheckedThrowingContinuation { loop.submit(.get(queue: queue, $0)) }
    }

    /// Reads up to `limit` messages from the head of a queue and puts them back where they were,
    /// in one step on the connection: a look that takes nothing (basic.get, then basic.nack with
    /// requeue). Empty if the queue has no ready message.
    public func peek(queue: String, limit: Int = 1) async throws -> [AMQPDelivery] {
        try await withCheckedThrowingContinuation { loop.submit(.peek(queue: queue, limit: max(1, limit), $0)) }
    }

    /// Whether a queue exists (a passive declare that answers 404 says it does not).
    public func inspectIfExists(queue: String) async throws -> Bool {
        do {
            _ = try await inspect(queue: queue)
            return true
        } catch let error as AMQPError where error.replyCode == 404 {
            return false
        }
    }

    /// Removes every ready message from a queue; returns how many there were.
    @discardableResult
    public func purge(queue: String) async throws -> UInt32 {
        try await withCheckedThrowingContinuation { loop.submit(.purge(queue: queue, $0)) }
    }

    /// How many messages are ready on a queue and how many consumers take from it (a passive
    /// declare); fails with NOT_FOUND if the queue does not exist.
    public func inspect(queue: String) async throws -> QueueStatus {
        try await withCheckedThrowingContinuation { loop.submit(.inspect(queue: queue, $0)) }
    }

    /// Deletes a queue.
    public func delete(queue: String) async throws {
        try await withCheckedThrowingContinuation { loop.submit(.deleteQueue(queue, $0)) }
    }

    /// Closes the connection. Unconfirmed publishes fail with `.closed`; consumers' streams finish.
    public func close() async {
        loop.closeRequested.store(true, ordering: .relaxed)
        await withCheckedContinuation { loop.submit(.close($0)) }
    }
}

/// What a passive declare tells of a queue.
public struct QueueStatus: Sendable, Equatable {
    /// Messages ready for delivery (not those handed out and unacknowledged).
    public let messages: Int
    /// Consumers taking from the queue.
    public let consumers: Int
}

/// A consumer started by ``AMQPConnection/consume(queue:prefetch:)``.
public struct AMQPConsumer: Sendable {
    public let tag: String
    public let queue: String
    /// Deliveries in the order the broker sent them; finishes when the consumer is cancelled or the
    /// connection ends for good.
    public let deliveries: AsyncStream<AMQPDelivery>
}
