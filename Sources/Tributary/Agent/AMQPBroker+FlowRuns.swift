import AMQPClient
import Foundation
import Synchronization

/// Flow runs over RabbitMQ (docs/wire-format.md): a run waits on durable queue
/// `trib.flows.<work-queue>` (through direct exchange `trib.flows`); its statuses go to topic
/// exchange `trib.flow-runs` with the run's id as routing key, which feeds the run's board, a
/// durable queue `trib.run.<id>` that keeps only the latest (`x-max-length` 1) and goes away
/// once unused for the retention (`x-expires`), and any watcher's own queue.
extension AMQPBroker: FlowRunTransport {
    public static let workQueueExchange = "trib.flows"
    public static let flowRunStatusExchange = "trib.flow-runs"

    /// The AMQP queue that holds flow runs for a work queue.
    public static func amqpQueue(forWorkQueue workQueue: String) -> String { "trib.flows.\(workQueue)" }
    /// The AMQP queue that holds a limited work queue's free slots, one message each.
    public static func slotQueue(forWorkQueue workQueue: String) -> String { "trib.slots.\(workQueue)" }
    /// The AMQP queue that holds a work queue's limit (only the latest).
    public static func limitQueue(forWorkQueue workQueue: String) -> String { "trib.limit.\(workQueue)" }
    /// The AMQP queue that holds a flow run's latest status.
    public static func boardQueue(for flowRunID: String) -> String { "trib.run.\(flowRunID)" }

    static let flowRunType = "flow-run"
    static let flowRunStatusType = "flow-run-status"

    public func prepareWorkQueue(_ workQueue: String) async throws {
        let name = Self.amqpQueue(forWorkQueue: workQueue)
        guard !preparedFlowRunTopology.withLock({ $0.contains(name) }) else { return }
        try await connection.declare(ExchangeDeclaration(name: Self.workQueueExchange, kind: .direct))
        try await queueType.declare(QueueDeclaration(name: name, arguments: [
            "x-dead-letter-exchange": .string(Self.deadLetterExchange),
        ]), on: connection)
        try await connection.bind(QueueBinding(queue: name, exchange: Self.workQueueExchange, routingKey: workQueue))
        preparedFlowRunTopology.withLock { _ = $0.insert(name) }
    }

    /// Declares the status exchange once per connection.
    private func prepareStatusExchange() async throws {
        guard !preparedFlowRunTopology.withLock({ $0.contains(Self.flowRunStatusExchange) }) else { return }
        try await connection.declare(ExchangeDeclaration(name: Self.flowRunStatusExchange, kind: .topic))
        preparedFlowRunTopology.withLock { _ = $0.insert(Self.flowRunStatusExchange) }
    }

    public func publish(flowRun: FlowRunMessage) async throws {
        try await connection.publishConfirmed(try flowRunMessage(flowRun))
    }

    private func flowRunMessage(_ flowRun: FlowRunMessage) throws -> OutboundMessage {
        try Self.jsonMessage(flowRun, type: Self.flowRunType, correlationID: flowRun.flowRunID,
                             exchange: Self.workQueueExchange, routingKey: flowRun.workQueue)
    }

    /// A persistent message of the flow-run side: `value` as JSON, the wire version, its `type`.
    private static func jsonMessage<T: Encodable>(_ value: T, type: String, correlationID: String? = nil,
                                                  exchange: String = "", routingKey: String) throws -> OutboundMessage {
        let properties = AMQPProperties(contentType: WireFormat.contentType, correlationID: correlationID, type: type,
                                        persistent: true, headers: [WireFormat.Header.wire: .int(WireFormat.version)])
        return OutboundMessage(exchange: exchange, routingKey: routingKey, properties: properties,
                               body: try FlowRunJSON.encode(value))
    }

    public func consumeFlowRuns(from workQueue: String, prefetch: Int) async throws -> any FlowRunConsumer {
        try await prepareWorkQueue(workQueue)
        let (deliveries, continuation) = AsyncStream.makeStream(of: FlowRunDelivery.self)
        let connection = self.connection, holds = self.holds, name = Self.amqpQueue(forWorkQueue: workQueue)
        let tag = try await connection.consume(queue: name,
                                               prefetch: UInt16(clamping: max(prefetch, 1)), onDelivery: { delivery in
            let held = holds.hold(delivery, from: name)
            continuation.yield(FlowRunDelivery(content: Self.decodeFlowRun(delivery), redelivered: delivery.wasHeldBefore,
                                               claim: { held.claim() }) {
                held.settle($0, on: connection)
            })
        }, onEnd: { continuation.finish() })
        return AMQPFlowRunConsumer(deliveries: deliveries, connection: connection, tag: tag)
    }

    public func agentCount(of workQueue: String) async throws -> Int {
        try await connection.inspect(queue: Self.amqpQueue(forWorkQueue: workQueue)).consumers
    }

    /// Declares the board, then publishes the Pending status and the flow-run message one after
    /// the other on the channel (so the board has the status before an agent can have the run) and
    /// waits for both confirms at once.
    public func submit(_ flowRun: FlowRunMessage, pending status: FlowRunStatus, retention: Duration) async throws {
        try await declareBoard(for: status.flowRunID, retention: retention)
        try await prepareWorkQueue(flowRun.workQueue)
        try await publishConfirmed([try statusMessage(status), try flowRunMessage(flowRun)])
    }

    public func prepareBoard(pending status: FlowRunStatus, retention: Duration) async throws {
        try await declareBoard(for: status.flowRunID, retention: retention)
        try await publish(status: status)
    }

    public func submitPrepared(_ flowRun: FlowRunMessage) async throws {
        try await prepareWorkQueue(flowRun.workQueue)
        try await publish(flowRun: flowRun)
    }

    /// Publishes `messages` one after the other on the channel and waits for all their confirms at once.
    private func publishConfirmed(_ messages: [OutboundMessage]) async throws {
        let connection = self.connection
        let (confirms, confirmed) = AsyncStream.makeStream(of: Result<Void, AMQPError>.self)
        for message in messages {
            connection.publish(message) { confirmed.yield($0) }
        }
        var remaining = messages.count
        for await confirm in confirms {
            try confirm.get()
            remaining -= 1
            if remaining == 0 { return }
        }
    }

    private func declareBoard(for flowRunID: String, retention: Duration) async throws {
        let name = Self.boardQueue(for: flowRunID)
        try await prepareStatusExchange()
        try await queueType.declare(QueueDeclaration(name: name, arguments: [
            "x-max-length": .int(1),
            "x-overflow": .string("drop-head"),
            "x-expires": .int(max(1, retention.wholeMilliseconds)),
        ]), on: connection)
        try await connection.bind(QueueBinding(queue: name, exchange: Self.flowRunStatusExchange,
                                                routingKey: flowRunID))
    }

    public func publish(status: FlowRunStatus) async throws {
        try await connection.publishConfirmed(try statusMessage(status))
    }

    private func statusMessage(_ status: FlowRunStatus) throws -> OutboundMessage {
        try Self.jsonMessage(status, type: Self.flowRunStatusType, correlationID: status.flowRunID,
                             exchange: Self.flowRunStatusExchange, routingKey: status.flowRunID)
    }

    public func status(of flowRunID: String) async throws -> FlowRunStatus? {
        var copies: [AMQPDelivery] = []
        // A board that exists is empty only for a moment: between its declare and its first status,
        // or while another reader holds its message to look at it.
        for _ in 0..<100 {
            do {
                // More than one only for a moment (a reader put an older one back as a newer came).
                copies = try await connection.peek(queue: Self.boardQueue(for: flowRunID), limit: 4)
            } catch let error as AMQPError where error.replyCode == 404 {
                return nil
            }
            if !copies.isEmpty { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        return copies.compactMap { try? FlowRunJSON.decode(FlowRunStatus.self, from: $0.body) }
            .reduce(nil) { newest, status in newest.map { FlowRunStatus.newest($0, status) } ?? status }
    }

    public func limit(of workQueue: String) async throws -> WorkQueueLimit? {
        // Empty only for a moment, while another reader looks at it.
        for _ in 0..<100 {
            let copies: [AMQPDelivery]
            do {
                copies = try await connection.peek(queue: Self.limitQueue(forWorkQueue: workQueue), limit: 4)
            } catch let error as AMQPError where error.replyCode == 404 {
                return nil
            }
            if let newest = copies.compactMap({ try? FlowRunJSON.decode(WorkQueueLimit.self, from: $0.body) })
                .max(by: { $0.generation < $1.generation }) {
                return newest
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw AMQPError(.channelClosedByBroker, message: "the limit of work queue '\(workQueue)' stayed unreadable")
    }

    /// The AMQP queue that holds the claim of one take of a flow run.
    public static func claimQueue(for flowRunID: String, epoch: Int) -> String { "trib.claim.\(flowRunID).\(epoch)" }

    /// A claim is a message in the take's own queue, which keeps one and rejects any later
    /// publish (`x-overflow: reject-publish`, a basic.nack): the first publish wins. A rejected
    /// claimant reads the queue to tell a claim of another from its own first publish, which a
    /// reconnect can send again. Queue and message are transient (every run start makes one, and
    /// durable ones cost a run start a quarter of the flows benchmark's rate): a broker restart
    /// that loses a claim also hands every held run back, re-counted to a newer take, and the
    /// older take stops once it sees the newer one on the board.
    public func claim(flowRunID: String, epoch: Int, token: String, retention: Duration) async throws -> Bool {
        let name = Self.claimQueue(for: flowRunID, epoch: epoch)
        try await connection.declare(QueueDeclaration(name: name, durable: false, arguments: [
            "x-max-length": .int(1),
            "x-overflow": .string("reject-publish"),
            "x-expires": .int(max(1, retention.wholeMilliseconds)),
        ]))
        let message = OutboundMessage(exchange: "", routingKey: name,
                                      properties: AMQPProperties(persistent: false), body: Array(token.utf8))
        do {
            try await connection.publishConfirmed(message)
            return true
        } catch let error as AMQPError where error.kind == .publishRejected {
            // Empty only for a moment, while another rejected claimant looks at it.
            for _ in 0..<100 {
                if let holder = try await connection.peek(queue: name).first {
                    return String(decoding: holder.body, as: UTF8.self) == token
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            throw AMQPError(.channelClosedByBroker, message: "the claim of flow run \(flowRunID)'s take \(epoch) "
                + "stayed unreadable")
        }
    }

    public func releaseClaim(flowRunID: String, epoch: Int) async {
        try? await connection.delete(queue: Self.claimQueue(for: flowRunID, epoch: epoch))
    }

    /// Setting a limit writes it (a new generation) to `trib.limit.<work-queue>` and fills
    /// `trib.slots.<work-queue>` with that many slot messages, after taking out the free ones of
    /// the old setting; a held slot of the old setting is dropped when its run ends. Removing it
    /// deletes the limit and empties the slots (their queue expires a day after its last use):
    /// agents waiting for a slot see the limit gone within ``slotWaitRecheck`` and go on.
    public func setLimit(_ limit: Int?, of workQueue: String, resumeLimit: Int?) async throws {
        let limitQueue = Self.limitQueue(forWorkQueue: workQueue), slotQueue = Self.slotQueue(forWorkQueue: workQueue)
        guard let limit else {
            try await connection.delete(queue: limitQueue)
            if try await connection.inspectIfExists(queue: slotQueue) { try await connection.purge(queue: slotQueue) }
            return
        }
        let setting = WorkQueueLimit(workQueue: workQueue, limit: limit,
                                     generation: (try await self.limit(of: workQueue)?.generation ?? 0) + 1,
                                     resumeLimit: resumeLimit)
        try await queueType.declare(QueueDeclaration(name: limitQueue, arguments: [
            "x-max-length": .int(1), "x-overflow": .string("drop-head"),
        ]), on: connection)
        try await queueType.declare(QueueDeclaration(name: slotQueue, arguments: ["x-expires": .int(86_400_000)]),
                                    on: connection)
        try await connection.purge(queue: slotQueue)
        try await connection.publishConfirmed(try Self.jsonMessage(setting, type: "work-queue-limit",
                                                                   routingKey: limitQueue))
        let slot = try Self.jsonMessage(setting, type: "work-queue-limit", routingKey: slotQueue)
        for _ in 0..<limit { try await connection.publishConfirmed(slot) }
    }

    /// Takes one slot message with a consumer of its own (prefetch 1), stops the consumer and
    /// keeps the message unacknowledged while the run runs: given back (requeued) at its end, or by
    /// the broker if this connection dies. A slot of an older setting is dropped instead.
    public func acquireSlot(of limit: WorkQueueLimit) async throws -> WorkQueueSlot {
        let offer = SlotOffer()
        let connection = self.connection
        let tag = try await connection.consume(queue: Self.slotQueue(forWorkQueue: limit.workQueue), prefetch: 1,
                                               onDelivery: { slot in
                                                   // One slot is enough; one that comes after is given back.
                                                   if !offer.fill(slot) { connection.nack(slot.tag, requeue: true) }
                                               }, onEnd: { _ = offer.fill(nil) })
        // While it waits, it looks every few seconds whether the limit is still there.
        let recheck = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.slotWaitRecheck)
                // Only a limit known to be gone ends the wait; one that cannot be read now does not.
                if !Task.isCancelled, case .some(.none) = try? await self.limit(of: limit.workQueue) { _ = offer.fill(nil) }
            }
        }
        let taken = await withTaskCancellationHandler {
            await offer.value()
        } onCancel: {
            _ = offer.fill(nil)
        }
        recheck.cancel()
        try? await connection.cancel(consumerTag: tag)
        // No slot: the limit was removed, or the wait cancelled.
        guard let taken else {
            try Task.checkCancellation()
            return .unlimited
        }
        let slot = holds.hold(taken, from: Self.slotQueue(forWorkQueue: limit.workQueue), claimed: true)
        return WorkQueueSlot { [self] in
            // Dropped only when the limit is known to have changed (or gone); otherwise put back.
            let held = (try? FlowRunJSON.decode(WorkQueueLimit.self, from: slot.original.body))?.generation ?? 0
            let changed: Bool
            do {
                changed = try await self.limit(of: limit.workQueue).map { $0.generation > held } ?? true
            } catch {
                changed = false
            }
            slot.settle(changed ? .ack : .requeue, on: connection)
        }
    }

    /// How often an agent waiting for a slot checks that the work queue is still limited.
    static let slotWaitRecheck = Duration.seconds(3)

    public func watch(flowRunID: String, _ onStatus: @escaping @Sendable (FlowRunStatus) -> Void) async throws
        -> FlowRunWatch {
        try await prepareStatusExchange()
        let close = try await consumeOwnQueue(
            named: "trib.watch.\(UUID().uuidString.lowercased())", boundTo: Self.flowRunStatusExchange,
            routingKey: flowRunID, what: "flow-run status", decode: { [Self.decodeStatus($0)] }, onMessage: onStatus)
        return FlowRunWatch(close: close)
    }

    static func decodeFlowRun(_ delivery: AMQPDelivery) -> Result<FlowRunMessage, MalformedTask> {
        decode(FlowRunMessage.self, delivery, type: flowRunType)
    }

    static func decodeStatus(_ delivery: AMQPDelivery) -> Result<FlowRunStatus, MalformedTask> {
        decode(FlowRunStatus.self, delivery, type: flowRunStatusType)
    }

    private static func decode<T: Decodable>(_: T.Type, _ delivery: AMQPDelivery, type: String) -> Result<T, MalformedTask> {
        func malformed(_ reason: String) -> Result<T, MalformedTask> {
            .failure(MalformedTask(reason: reason, replyTo: nil, taskRunID: nil, attempt: 0))
        }
        let p = delivery.properties
        if let problem = WireFormat.versionProblem(p, expected: WireFormat.version, what: type) {
            return malformed(problem)
        }
        guard p.type == type else { return malformed("type '\(p.type ?? "")' is not \(type)") }
        do {
            return .success(try FlowRunJSON.decode(T.self, from: delivery.body))
        } catch {
            return malformed("the body is not a \(type): \(WireJSON.describe(error))")
        }
    }
}

/// The one slot message a waiting agent takes, or nil when it stops waiting; filled once.
private final class SlotOffer: Sendable {
    private let state = Mutex<(filled: Bool, slot: AMQPDelivery?, waiter: CheckedContinuation<AMQPDelivery?, Never>?)>(
        (false, nil, nil))

    /// Fills the offer; false if it was filled already.
    func fill(_ slot: AMQPDelivery?) -> Bool {
        let (filled, waiter) = state.withLock { state -> (Bool, CheckedContinuation<AMQPDelivery?, Never>?) in
            guard !state.filled else { return (false, nil) }
            state.filled = true
            state.slot = slot
            defer { state.waiter = nil }
            return (true, state.waiter)
        }
        waiter?.resume(returning: slot)
        return filled
    }

    func value() async -> AMQPDelivery? {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> (Bool, AMQPDelivery?) in
                if state.filled { return (true, state.slot) }
                state.waiter = continuation
                return (false, nil)
            }
            if ready.0 { continuation.resume(returning: ready.1) }
        }
    }
}

private struct AMQPFlowRunConsumer: FlowRunConsumer {
    let deliveries: AsyncStream<FlowRunDelivery>
    let connection: AMQPConnection
    let tag: String
    func stop() async { try? await connection.cancel(consumerTag: tag) }
}

/// JSON of flow-run messages and statuses: sorted keys and ISO 8601 times with milliseconds, for
/// any reader.
enum FlowRunJSON {
    private static let time = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(time))
        }
        return encoder
    }()
    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = try? time.parse(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                        debugDescription: "'\(text)' is not an ISO 8601 time"))
            }
            return date
        }
        return decoder
    }()

    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] { Array(try encoder.encode(value)) }
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try decoder.decode(type, from: Data(bytes))
    }
}
