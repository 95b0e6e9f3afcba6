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
    public static let controlExchange = "trib.control"

    /// The AMQP queue that holds tasks for a Tributary queue name.
    public static func amqpQueue(for queue: String) -> String { "trib.q.\(queue)" }

    public let connection: AMQPConnection
    let logger: Logger
    private let preparedQueues = Mutex<Set<String>>([])
    /// Work queues and exchanges of submitted flow runs this connection has declared already.
    let preparedFlowRunTopology = Mutex<Set<String>>([])

    /// Renews what this connection holds for long, clear of the broker's delivery timeout.
    let holds: HeldDeliveries

    /// The type of the queues that hold work (the URL's `queue_type`).
    let queueType: QueueType

    /// Whether tasks published at the same time may go as one pack, and how many at most.
    let packing: TaskPacking
    /// What held task packs publish as their tasks are settled, until confirmed.
    let packPublishes = InFlight()
    /// How long closing waits for those publishes.
    static let packPublishWait = Duration.seconds(5)

    private init(connection: AMQPConnection, queueType: QueueType, renewHeldAfter: Duration?, packing: Bool,
                 statistics: StatisticsCounters?, logger: Logger) {
        self.connection = connection
        self.queueType = queueType
        self.packing = TaskPacking(enabled: packing, connection: connection, statistics: statistics)
        self.logger = logger
        self.holds = HeldDeliveries(connection: connection, renewAfter: renewHeldAfter, logger: logger)
    }

    /// Connects to the broker at `url` and declares the shared topology. `connectionName` is what
    /// the broker shows for the connection (rabbitmqctl, the management UI).
    public static func connect(url: String, connectionName: String? = nil,
                               logger: Logger = Logger(label: "tributary.broker")) async throws -> AMQPBroker {
        try await connect(url: url, connectionName: connectionName, statistics: nil, logger: logger)
    }

    /// Connects as ``connect(url:connectionName:logger:)`` does; a client's broker counts the tasks
    /// it sends in packs in its `statistics`.
    static func connect(url: String, connectionName: String?, statistics: StatisticsCounters?,
                        logger: Logger) async throws -> AMQPBroker {
        let renewHeldAfter = try HeldDeliveries.configuredRenewal()
        let packing = try TaskPacking.configured()
        let (amqpURL, queueType) = try QueueType.split(brokerURL: url)
        var configuration = try AMQPConfiguration(url: amqpURL)
        configuration.connectionName = connectionName
        let connection = try await AMQPConnection.connect(configuration, logger: logger)
        do {
            try await connection.declare(ExchangeDeclaration(name: taskExchange, kind: .direct))
            try await connection.declare(ExchangeDeclaration(name: deadLetterExchange, kind: .fanout))
            try await connection.declare(ExchangeDeclaration(name: controlExchange, kind: .fanout))
            try await queueType.declare(QueueDeclaration(name: deadLetterQueue), on: connection)
            try await connection.bind(QueueBinding(queue: deadLetterQueue, exchange: deadLetterExchange, routingKey: ""))
        } catch {
            await connection.close()
            throw error
        }
        return AMQPBroker(connection: connection, queueType: queueType, renewHeldAfter: renewHeldAfter, packing: packing,
                          statistics: statistics, logger: logger)
    }

    /// Declares the queue of `queue`'s tasks and the one of its packs; a sender then learns
    /// whether every worker of the queue reads packs.
    public func prepareTaskQueue(_ queue: String) async throws {
        if preparedQueues.withLock({ $0.contains(queue) }) { return }
        let name = Self.amqpQueue(for: queue)
        let arguments: AMQPTable = ["x-dead-letter-exchange": .string(Self.deadLetterExchange)]
        try await queueType.declare(QueueDeclaration(name: name, arguments: arguments), on: connection)
        try await connection.bind(QueueBinding(queue: name, exchange: Self.taskExchange, routingKey: queue))
        try await queueType.declare(QueueDeclaration(name: Self.packQueue(for: queue), arguments: arguments), on: connection)
        if packing.isEnabled { await packing.refresh(queue) }
        preparedQueues.withLock { _ = $0.insert(queue) }
    }

    public func publish(task: TaskMessage, onConfirm: @escaping @Sendable ((any Error)?) -> Void) {
        publish(task: task, queued: 0, onConfirm: onConfirm)
    }

    /// Publishes a task; when every worker of its queue reads packs and `queued` tasks (this one
    /// included) wait for them, it may go in one message with tasks published at the same time.
    public func publish(task: TaskMessage, queued: Int, onConfirm: @escaping @Sendable ((any Error)?) -> Void) {
        let message = WireFormat.encode(task, exchange: Self.taskExchange)
        let handler: ConfirmHandler = { result in
            switch result {
            case .success: onConfirm(nil)
            case .failure(let error): onConfirm(error)
            }
        }
        if let packer = packing.packer(for: task.queue, queued: queued) {
            connection.publish(message, packer: packer, onConfirm: handler)
        } else {
            connection.publish(message, onConfirm: handler)
        }
    }

    public func openReplyQueue(named name: String, onResult: @escaping @Sendable (ResultMessage) -> Void,
                               onMalformed: @escaping @Sendable (MalformedTask) -> Void) async throws -> ReplyQueue {
        // Durable and shared, not exclusive: a broker restart or a reconnect that brings a worker back
        // before this coordinator would otherwise find no queue, and the broker would drop the
        // results it sent meanwhile (their tasks acknowledged). It outlives a coordinator that dies
        // by `replyQueueExpiry` unused. Of the work queues' type: on a cluster, a quorum reply queue
        // outlives the node it was made on.
        let declaration = QueueDeclaration(name: name, arguments: queueType.arguments.merging([
            "x-expires": .int(Self.replyQueueExpiry.wholeMilliseconds),
        ]) { $1 })
        let close = try await consumeOwnQueue(named: name, boundTo: nil, what: "message on the reply queue",
                                              declaration: declaration, decode: WireFormat.decodeResults,
                                              onMessage: onResult, onMalformed: onMalformed)
        return ReplyQueue(name: name, close: close)
    }

    public func openJournal(named name: String, retention: Duration,
                            onResult: @escaping @Sendable (ResultMessage) -> Void,
                            onMalformed: @escaping @Sendable (MalformedTask) -> Void,
                            onRead: @escaping @Sendable () -> Void) async throws -> (queue: ReplyQueue, held: Int) {
        try await queueType.declare(QueueDeclaration(name: name, arguments: [
            "x-expires": .int(max(1, retention.wholeMilliseconds)),
            // One coordinator reads a run's results at a time: an agent that reconnects after
            // another resumed its run waits behind it and gets none.
            "x-single-active-consumer": .bool(true),
        ]), on: connection)
        // Another coordinator still reads it (an agent that lost the run and has not noticed yet):
        // its messages come back to the queue when it lets go, so wait for that before counting.
        var status = try await connection.inspect(queue: name)
        let deadline = ContinuousClock.now + Self.journalHandoverWait
        if status.consumers > 0 {
            logger.info("waiting for the run's previous coordinator to let go of its journal", metadata: ["queue": "\(name)"])
        }
        while status.consumers > 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            status = try await connection.inspect(queue: name)
        }
        let held = status.messages
        let logger = self.logger
        let connection = self.connection
        let taken = Mutex<[HeldDelivery]>([])
        let holds = self.holds
        // Prefetch 0: no limit, since nothing is acknowledged until the run ends.
        let tag = try await connection.consume(queue: name, prefetch: 0, onDelivery: { delivery in
            let decoded = WireFormat.decodeResults(delivery)
            let results = decoded.compactMap { try? $0.get() }
            let problems = decoded.compactMap { part -> MalformedTask? in
                if case .failure(let problem) = part { problem } else { nil }
            }
            for problem in problems {
                logger.error("dead-lettered a malformed message on the journal", metadata: [
                    "reason": "\(problem.reason)", "queue": "\(name)",
                ])
                onMalformed(problem)
            }
            if results.isEmpty {
                Self.settle(delivery, .deadLetter(reason: problems.map(\.reason).joined(separator: "; ")), from: name, on: connection)
            } else {
                // A pack with a bad result stays held for its good ones; its copy in the dead letters
                // is made when it is first read, not again each time the journal is read back.
                if !problems.isEmpty, !delivery.wasHeldBefore {
                    connection.publish(Self.deadLetterCopy(of: delivery, from: name,
                                                           reason: problems.map(\.reason).joined(separator: "; ")))
                }
                taken.withLock { $0.append(holds.hold(delivery, from: name, claimed: true)) }
            }
            for result in results { onResult(result) }
            onRead()
        }, onEnd: {})
        // Closing lets go of the journal: what this coordinator read goes back on the queue, for
        // whoever reads it next (the agent that resumed the run, or nobody before it is deleted).
        return (ReplyQueue(name: name) {
            try? await connection.cancel(consumerTag: tag)
            for held in taken.withLock({ $0 }) { held.settle(.requeue, on: connection) }
        }, held)
    }

    /// How long a reply queue stays once no coordinator consumes it: longer than a reconnect takes,
    /// short enough that a dead coordinator's results do not pile up.
    static let replyQueueExpiry = Duration.seconds(60)

    /// How long a coordinator opening a journal waits for a previous one to let go of it.
    static let journalHandoverWait = Duration.seconds(60)

    public func deleteJournal(named name: String) async {
        try? await connection.delete(queue: name)
    }

    /// Declares a queue of this process's own (exclusive and auto-delete unless `declaration` says
    /// otherwise; bound to `exchange` with `routingKey` if given) and consumes it without acks: a
    /// message it cannot take is moot. `decode` gives what a message holds (several for a pack);
    /// for each part that does not decode, a copy of the message is dead-lettered with the reason.
    /// Returns what stops consuming and removes it.
    func consumeOwnQueue<Message>(
        named name: String, boundTo exchange: String?, routingKey: String = "", what: String,
        declaration: QueueDeclaration? = nil,
        decode: @escaping @Sendable (AMQPDelivery) -> [Result<Message, MalformedTask>],
        onMessage: @escaping @Sendable (Message) -> Void, onMalformed: @escaping @Sendable (MalformedTask) -> Void = { _ in }
    ) async throws -> @Sendable () async -> Void {
        try await connection.declare(declaration
            ?? QueueDeclaration(name: name, durable: false, exclusive: true, autoDelete: true))
        if let exchange {
            try await connection.bind(QueueBinding(queue: name, exchange: exchange, routingKey: routingKey))
        }
        let logger = self.logger
        let connection = self.connection
        let tag = try await connection.consume(queue: name, prefetch: 0, noAck: true, onDelivery: { delivery in
            for decoded in decode(delivery) {
                switch decoded {
                case .success(let message): onMessage(message)
                case .failure(let problem):
                    logger.error("dead-lettered a malformed \(what)", metadata: [
                        "reason": "\(problem.reason)", "queue": "\(name)",
                    ])
                    // Counted before the copy is published, so whoever sees the dead letter sees the count.
                    onMalformed(problem)
                    connection.publish(Self.deadLetterCopy(of: delivery, from: name, reason: problem.reason))
                }
            }
        }, onEnd: {})
        return {
            try? await connection.cancel(consumerTag: tag)
            try? await connection.delete(queue: name)
        }
    }

    public func consumeTasks(from queue: String, prefetch: Int, onDelivery: @escaping @Sendable (TaskDelivery) -> Void,
                             onEnd: @escaping @Sendable () -> Void,
                             onLost: @escaping @Sendable (DeliveriesLost) -> Void) async throws -> any TaskConsumer {
        try await prepareTaskQueue(queue)
        let connection = self.connection
        let epoch = ChannelEpoch()
        // Both consumers end (a drain, the queue deleted) before the worker hears the end.
        let ends = Atomic<Int>(0)
        let oneEnded: @Sendable () -> Void = { if ends.add(1, ordering: .acquiringAndReleasing).newValue == 2 { onEnd() } }
        let holds = self.holds, name = Self.amqpQueue(for: queue)
        let tag = try await connection.consume(queue: name,
                                               prefetch: UInt16(clamping: max(prefetch, 1)), onDelivery: { delivery in
            let received = epoch.current
            let held = holds.hold(delivery, from: name)
            onDelivery(TaskDelivery(content: WireFormat.decodeTask(delivery, queue: queue), redelivered: delivery.wasHeldBefore,
                                    isHeld: { epoch.current == received }, claim: { held.claim() }) {
                held.settle($0, on: connection)
            })
        }, onEnd: oneEnded, onDeliveriesLost: { error in
            // One report for the channel: the pack consumer shares it, and so this epoch.
            epoch.advance()
            onLost(DeliveriesLost(reason: error.description, deliveryTimeout: error.deliveryAcknowledgementTimeout))
        })
        // A worker that holds only the task it runs (prefetch 1) reads no packs: its queue's tasks then go alone.
        guard prefetch >= 2 else {
            oneEnded()
            return AMQPTaskConsumer(connection: connection, tags: [tag])
        }
        let packTag: String
        do {
            // About as many tasks in packs as it takes alone, and two packs at least, so that one
            // pack's last task never leaves the worker waiting for the next pack.
            packTag = try await consumePacks(of: queue, prefetch: max(2, prefetch / WireFormat.maxTasksPerPack),
                                             epoch: epoch, onDelivery: onDelivery, onEnd: oneEnded)
        } catch {
            try? await connection.cancel(consumerTag: tag)
            throw error
        }
        return AMQPTaskConsumer(connection: connection, tags: [tag, packTag])
    }

    /// The consumers of the queue's single tasks; 0 while task packs wait on its pack queue and
    /// nobody reads them (every worker that reads packs has left), so the queue is reported unserved.
    public func consumerCount(of queue: String) async throws -> Int {
        let consumers = try await connection.inspect(queue: Self.amqpQueue(for: queue)).consumers
        guard preparedQueues.withLock({ $0.contains(queue) }) else { return consumers }
        let packs = try await connection.inspect(queue: Self.packQueue(for: queue))
        return packs.messages > 0 && packs.consumers == 0 ? 0 : consumers
    }

    /// Settles `delivery`, taken from `queue`, or with `tag`, the delivery that holds its message
    /// now (a held copy).
    static func settle(_ delivery: AMQPDelivery, _ settlement: Settlement, from queue: String, tag: DeliveryTag? = nil,
                       on connection: AMQPConnection) {
        let tag = tag ?? delivery.tag
        switch settlement {
        case .ack:
            connection.ack(tag)
        case .requeue:
            connection.nack(tag, requeue: true)
        case .deadLetter(let reason):
            connection.publish(deadLetterCopy(of: delivery, from: queue, reason: reason)) { result in
                switch result {
                case .success: connection.ack(tag)
                // The queue's own dead-letter exchange takes it, without the reason header.
                case .failure: connection.reject(tag, requeue: false)
                }
            }
        }
    }

    /// `delivery` addressed to the dead-letter exchange, with why it is there and the queue it was
    /// taken from.
    private static func deadLetterCopy(of delivery: AMQPDelivery, from queue: String, reason: String) -> OutboundMessage {
        deadLetter(HeldDeliveries.withoutRouting(delivery.properties), delivery.body, from: queue, reason: reason)
    }

    /// A message of `properties` and `body` addressed to the dead-letter exchange, with why it is
    /// there and the queue it was taken from.
    static func deadLetter(_ properties: AMQPProperties, _ body: [UInt8], from queue: String, reason: String) -> OutboundMessage {
        var properties = properties
        properties.headers["x-trib-dead-reason"] = .string(reason)
        properties.headers["x-trib-original-queue"] = .string(queue)
        properties.persistent = true
        return OutboundMessage(exchange: deadLetterExchange, routingKey: queue, properties: properties, body: body)
    }

    public func publish(result: ResultMessage, to replyQueue: String,
                        onConfirm: @escaping @Sendable ((any Error)?) -> Void) {
        // Results that queue up together for one coordinator go as one message (a pack).
        connection.publish(WireFormat.encode(result, replyTo: replyQueue), packer: WireFormat.resultPacker) { outcome in
            switch outcome {
            case .success: onConfirm(nil)
            case .failure(let error): onConfirm(error)
            }
        }
    }

    public func subscribeControl(_ onMessage: @escaping @Sendable (ControlMessage) -> Void) async throws
        -> ControlSubscription {
        let name = "trib.control.\(UUID().uuidString.lowercased())"
        let close = try await consumeOwnQueue(named: name, boundTo: Self.controlExchange, what: "control message",
                                              decode: { [WireFormat.decodeControl($0)] }, onMessage: onMessage)
        return ControlSubscription(queueName: name, close: close)
    }

    /// A fanout to every control queue is nacked when one of them is being deleted at that moment
    /// (a client closing): it is sent again, up to `controlPublishAttempts` times in all.
    public func publish(control: ControlMessage, to queue: String?,
                        onConfirm: @escaping @Sendable ((any Error)?) -> Void) {
        let message = queue.map { WireFormat.encode(control, exchange: "", routingKey: $0) }
            ?? WireFormat.encode(control, exchange: Self.controlExchange, routingKey: "")
        Self.publish(message, on: connection, attemptsLeft: Self.controlPublishAttempts, onConfirm: onConfirm)
    }

    static let controlPublishAttempts = 5

    private static func publish(_ message: OutboundMessage, on connection: AMQPConnection, attemptsLeft: Int,
                                onConfirm: @escaping @Sendable ((any Error)?) -> Void) {
        connection.publish(message) { outcome in
            switch outcome {
            case .success:
                onConfirm(nil)
            case .failure(let error) where error.kind == .publishRejected && attemptsLeft > 1:
                publish(message, on: connection, attemptsLeft: attemptsLeft - 1, onConfirm: onConfirm)
            case .failure(let error):
                onConfirm(error)
            }
        }
    }

    /// Closes the broker's connection, once what held task packs publish is confirmed (or after
    /// ``packPublishWait``): a pack whose tasks went back to their coordinators is then acknowledged.
    public func close() async {
        let deadline = ContinuousClock.now + Self.packPublishWait
        while packPublishes.count > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        holds.close()
        await connection.close()
    }
}

/// Counts the times the broker took back a consumer's deliveries; a delivery handed over in an
/// earlier epoch is no longer held.
final class ChannelEpoch: Sendable {
    private let value = Atomic<Int>(0)
    var current: Int { value.load(ordering: .acquiring) }
    func advance() { value.add(1, ordering: .releasing) }
}

private struct AMQPTaskConsumer: TaskConsumer {
    let connection: AMQPConnection
    let tags: [String]
    func stop() async {
        for tag in tags { try? await connection.cancel(consumerTag: tag) }
    }
}
