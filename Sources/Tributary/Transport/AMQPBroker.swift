import AMQPClient
import Foundation
import Logging
import Synchronization

/// The RabbitMQ transport. Topology (see docs/wire-format.md):
/// tasks go to durable queue `trib.q.<queue>` through direct exchange `trib.tasks`; results to the
/// coordinator's exclusive reply queue; dead letters to `trib.dead` through fanout exchange `trib.dlx`.
public final class AMQPBroker: Broker {
    public static let taskExchange = "trib.tasks"
    public static let deadLetterExchange = "trib.dlx"
    public static let deadLetterQueue = "trib.dead"

    /// The AMQP queue that holds tasks for a Tributary queue name.
    public static func amqpQueue(for queue: String) -> String { "trib.q.\(queue)" }

    public let connection: AMQPConnection
    private let logger: Logger
    private let preparedQueues = Mutex<Set<String>>([])

    private init(connection: AMQPConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    /// Connects to the broker at `url` and declares the shared topology. `connectionName` is what
    /// the broker shows for the connection (rabbitmqctl, the management UI).
    public static func connect(url: String, connectionName: String? = nil,
                               logger: Logger = Logger(label: "tributary.broker")) async throws -> AMQPBroker {
        var configuration = try AMQPConfiguration(url: url)
        configuration.connectionName = connectionName
        let connection = try await AMQPConnection.connect(configuration, logger: logger)
        do {
            try await connection.declare(ExchangeDeclaration(name: taskExchange, kind: .direct))
            try await connection.declare(ExchangeDeclaration(name: deadLetterExchange, kind: .fanout))
            try await connection.declare(QueueDeclaration(name: deadLetterQueue))
            try await connection.bind(QueueBinding(queue: deadLetterQueue, exchange: deadLetterExchange, routingKey: ""))
        } catch {
            await connection.close()
            throw error
        }
        return AMQPBroker(connection: connection, logger: logger)
    }

    public func prepareTaskQueue(_ queue: String) async throws {
        if preparedQueues.withLock({ $0.contains(queue) }) { return }
        let name = Self.amqpQueue(for: queue)
        try await connection.declare(QueueDeclaration(name: name, arguments: [
            "x-dead-letter-exchange": .string(Self.deadLetterExchange),
        ]))
        try await connection.bind(QueueBinding(queue: name, exchange: Self.taskExchange, routingKey: queue))
        preparedQueues.withLock { _ = $0.insert(queue) }
    }

    public func publish(task: TaskMessage, onConfirm: @escaping @Sendable ((any Error)?) -> Void) {
        let message = WireFormat.encode(task, exchange: Self.taskExchange)
        connection.publish(message) { result in
            switch result {
            case .success: onConfirm(nil)
            case .failure(let error): onConfirm(error)
            }
        }
    }

    public func openReplyQueue() async throws -> ReplyQueue {
        let name = "trib.reply.\(UUID().uuidString)"
        try await connection.declare(QueueDeclaration(name: name, durable: false, exclusive: true, autoDelete: true))
        let consumer = try await connection.consume(queue: name, prefetch: 1000)
        let connection = self.connection
        let logger = self.logger
        let results = AsyncStream<ResultMessage> { continuation in
            let forwarding = Task {
                for await delivery in consumer.deliveries {
                    connection.ack(delivery.tag)
                    switch WireFormat.decodeResult(delivery) {
                    case .success(let result): continuation.yield(result)
                    case .failure(let problem):
                        logger.error("dropped a malformed message on the reply queue", metadata: [
                            "reason": "\(problem.reason)", "queue": "\(name)",
                        ])
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in forwarding.cancel() }
        }
        return ReplyQueue(name: name, results: results) {
            try? await connection.cancel(consumer)
            try? await connection.delete(queue: name)
        }
    }

    public func consumeTasks(from queue: String, prefetch: Int) async throws -> any TaskConsumer {
        try await prepareTaskQueue(queue)
        let consumer = try await connection.consume(queue: Self.amqpQueue(for: queue),
                                                    prefetch: UInt16(clamping: max(prefetch, 1)))
        let connection = self.connection
        let deliveries = consumer.deliveries.map { delivery in
            TaskDelivery(content: WireFormat.decodeTask(delivery), redelivered: delivery.redelivered) { settlement in
                await Self.settle(delivery, settlement, on: connection)
            }
        }
        return AMQPTaskConsumer(deliveries: AsyncStream(deliveries), connection: connection, consumer: consumer)
    }

    private static func settle(_ delivery: AMQPDelivery, _ settlement: Settlement, on connection: AMQPConnection) async {
        switch settlement {
        case .ack:
            connection.ack(delivery.tag)
        case .requeue:
            connection.nack(delivery.tag, requeue: true)
        case .deadLetter(let reason):
            var properties = delivery.properties
            properties.headers["x-trib-dead-reason"] = .string(reason)
            properties.headers["x-trib-original-queue"] = .string(delivery.routingKey)
            properties.persistent = true
            do {
                try await connection.publishConfirmed(OutboundMessage(exchange: deadLetterExchange,
                                                                      routingKey: delivery.routingKey,
                                                                      properties: properties, body: delivery.body))
                connection.ack(delivery.tag)
            } catch {
                // The queue's own dead-letter exchange takes it, without the reason header.
                connection.reject(delivery.tag, requeue: false)
            }
        }
    }

    public func publish(result: ResultMessage, to replyQueue: String) async throws {
        try await connection.publishConfirmed(WireFormat.encode(result, replyTo: replyQueue))
    }

    public func close() async {
        await connection.close()
    }
}

private struct AMQPTaskConsumer: TaskConsumer {
    let deliveries: AsyncStream<TaskDelivery>
    let connection: AMQPConnection
    let consumer: AMQPConsumer
    func stop() async { try? await connection.cancel(consumer) }
}

extension AsyncStream {
    /// Wraps any async sequence of the same element as an AsyncStream.
    init<S: AsyncSequence & Sendable>(_ sequence: S) where S.Element == Element, Element: Sendable {
        self.init { continuation in
            let task = Task {
                do { for try await element in sequence { continuation.yield(element) } } catch {}
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
