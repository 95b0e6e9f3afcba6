import AMQPClient
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Tributary

/// Records what clients publish on `trib.events`: takes the batches waiting on the server's own
/// durable queues, writes all it has in one transaction, and acknowledges them once it has
/// committed. A batch delivered again (the server died before its acknowledgement) changes
/// nothing, since every event is recorded by its id and its run's sequence.
///
/// While no server runs, events wait on the queues: states on `<queue>` (`trib.events.server` by
/// default, up to ``stateQueueBytes``), log lines on `<queue>.logs` (up to ``logQueueBytes``), so
/// logs give way first; past its bound a queue drops its oldest batches. Servers that share a store
/// share the queue; servers with stores of their own each need a queue of their own.
public final class EventIngest: Service {
    public static let defaultQueue = "trib.events.server"
    public static let stateQueueBytes = 1 << 30
    public static let logQueueBytes = 256 << 20
    /// Batches (each up to 500 events) written in one transaction at most.
    static let messagesPerTransaction = 200
    /// How long a batch's write may take before it is given up and tried again.
    static let writeLimit = Duration.seconds(20)

    private let brokerURL: String
    private let stateQueue: String
    private let logQueue: String
    private let store: any RunStore
    private let feed: ChangeFeed?
    private let logger: Logger
    private let counters = Mutex(IngestStatus())

    /// Records events from `queue` into `store`, telling `feed` what each transaction committed.
    public init(brokerURL: String, queue: String = EventIngest.defaultQueue, store: any RunStore,
                feed: ChangeFeed? = nil, logger: Logger) {
        self.feed = feed
        self.brokerURL = brokerURL
        stateQueue = queue
        logQueue = queue + ".logs"
        self.store = store
        self.logger = logger
    }

    /// What it has recorded since the start, and what it holds not yet recorded.
    public var status: IngestStatus { counters.withLock { $0 } }

    /// Declares the exchange and the server's queues (idempotent: the same arguments every time).
    private func declareTopology(on connection: AMQPConnection, queueType: QueueType) async throws {
        try await connection.declare(ExchangeDeclaration(name: AMQPBroker.eventExchange, kind: .topic))
        for (queue, bytes, keys) in [(stateQueue, Self.stateQueueBytes, ["flow-run", "task-run", "artifact", "heartbeat"]),
                                     (logQueue, Self.logQueueBytes, ["log"])] {
            try await queueType.declare(QueueDeclaration(name: queue, arguments: [
                "x-max-length-bytes": .int(Int64(bytes)), "x-overflow": .string("drop-head"),
            ]), on: connection)
            for key in keys {
                try await connection.bind(QueueBinding(queue: queue, exchange: AMQPBroker.eventExchange, routingKey: key))
            }
        }
    }

    public func run() async throws {
        let (amqpURL, queueType) = try QueueType.split(brokerURL: brokerURL)
        var configuration = try AMQPConfiguration(url: amqpURL)
        configuration.connectionName = "tributary server \(ProcessInfo.processInfo.hostName)"
        let connection = try await AMQPConnection.connect(configuration, logger: logger)
        try await declareTopology(on: connection, queueType: queueType)
        let pending = Mutex<[AMQPDelivery]>([])
        let (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        var tags: [String] = []
        for queue in [stateQueue, logQueue] {
            tags.append(try await connection.consume(queue: queue, prefetch: UInt16(Self.messagesPerTransaction),
                                                     onDelivery: { delivery in
                                                         self.counters.withLock { $0.heldBatches += 1 }
                                                         pending.withLock { $0.append(delivery) }
                                                         wake.yield()
                                                     }, onEnd: {}))
        }
        logger.info("recording events", metadata: ["queues": "\(stateQueue),\(logQueue)"])
        await withGracefulShutdownHandler {
            // Two stages: the next transaction's batches are decoded while the last one is written
            // (one write at a time, each acknowledged after its commit).
            await withTaskGroup(of: Void.self) { writes in
                var writing = false
                for await _ in wakes {
                    while true {
                        let batch = pending.withLock { pending -> [AMQPDelivery] in
                            let taken = Array(pending.prefix(Self.messagesPerTransaction))
                            pending.removeFirst(taken.count)
                            return taken
                        }
                        if batch.isEmpty { break }
                        let decoded = decode(batch)
                        if writing { await writes.next() }
                        writes.addTask { await self.record(decoded, on: connection) }
                        writing = true
                    }
                }
            }
        } onGracefulShutdown: {
            wake.finish()
        }
        for tag in tags { try? await connection.cancel(consumerTag: tag) }
        await connection.close()
        let c = status
        logger.info("stopped recording events", metadata: ["events": "\(c.events)", "batches": "\(c.batches)"])
    }

    /// The events and heartbeats of some deliveries, decoded.
    private struct DecodedBatch: Sendable {
        var deliveries: [AMQPDelivery]
        var events: [RunEvent] = []
        var heartbeats: [Heartbeat] = []
    }

    /// Decodes the deliveries' events; a message that is not a batch is counted and logged, and
    /// acknowledged with the rest.
    private func decode(_ deliveries: [AMQPDelivery]) -> DecodedBatch {
        var events: [RunEvent] = [], heartbeats: [Heartbeat] = []
        let decoder = JSONDecoder()
        for delivery in deliveries {
            do {
                if delivery.routingKey == "heartbeat" {
                    heartbeats.append(try decoder.decode(Heartbeat.self, from: Data(delivery.body)))
                } else {
                    events += try decoder.decode(EventBatch.self, from: Data(delivery.body)).events
                }
            } catch {
                counters.withLock { $0.malformedBatches += 1 }
                logger.error("dropped a message on the events queue that is not a batch of events", metadata: [
                    "routing-key": "\(delivery.routingKey)", "error": "\(error)",
                ])
            }
        }
        return DecodedBatch(deliveries: deliveries, events: events, heartbeats: heartbeats)
    }

    /// Writes a decoded batch in one transaction (retrying until it commits), then acknowledges
    /// its deliveries.
    private func record(_ batch: DecodedBatch, on connection: AMQPConnection) async {
        let (deliveries, events, heartbeats) = (batch.deliveries, batch.events, batch.heartbeats)
        var delay = Duration.milliseconds(100)
        while true {
            do {
                // Bounded: recording the same batch again changes nothing, so a write that hangs
                // (its connection cut mid-transaction) is given up and tried again.
                try await waitBounded(Self.writeLimit) { [store] in try await store.record(events, heartbeats: heartbeats) }
                break
            } catch {
                // Stopping: the batch stays unacknowledged and comes back to the next server.
                if Task.isCancelled { return }
                logger.error("could not record a batch of events; trying again", metadata: [
                    "events": "\(events.count)", "retry-in": "\(delay)", "error": "\(error)",
                ])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
        for delivery in deliveries { connection.ack(delivery.tag) }
        feed?.publish(events)
        let newest = events.map(\.time).max()
        counters.withLock {
            if let newest { $0.lagSeconds = max(0, Date().timeIntervalSince1970 - newest) }
            $0.events += events.count
            $0.batches += deliveries.count
            $0.heldBatches -= deliveries.count
        }
    }
}

/// What a server's ingestion has done since it started.
public struct IngestStatus: Codable, Sendable, Equatable {
    /// Events recorded, and the batches (messages) they came in.
    public var events = 0
    public var batches = 0
    /// Messages dropped because they were not batches of events.
    public var malformedBatches = 0
    /// Batches taken from the broker and not yet recorded and acknowledged.
    public var heldBatches = 0
    /// At the last commit, how long before it the newest event it recorded happened (seconds).
    public var lagSeconds = 0.0
}
