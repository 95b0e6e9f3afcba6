import AMQPClient
import Foundation
import Logging
import Synchronization

/// Keeps the deliveries this connection holds for long (a long task, a flow run's message and its
/// journal, a work queue's slot) clear of the broker's delivery timeout (`consumer_timeout`: the
/// broker closes a channel whose oldest unacknowledged delivery is older than that, and hands
/// every delivery of the channel out again).
///
/// A delivery held longer than `renewAfter` is renewed: a copy goes to this connection's own hold
/// queue `trib.hold.<holder>` (through direct exchange `trib.hold`), which only this connection
/// consumes; once the copy arrives here, the older delivery is acknowledged and the copy is held
/// in its place, young again. The hold queue's messages live for 0 ms and dead-letter through the
/// default exchange with their `CC` header, the queue they came from: if this process dies or
/// loses the broker, the broker takes the copy back and it goes straight back to that queue, as the
/// delivery itself would have. A copy carries header `x-trib-held-copy`, so whoever takes it from
/// there knows it was held before (as a redelivery).
final class HeldDeliveries: Sendable {
    static let holdExchange = "trib.hold"
    /// The header of a held copy: `<holder>/<number>`.
    static let copyHeader = "x-trib-held-copy"

    /// How long a delivery is held before it is renewed; nil: never renewed.
    let renewAfter: Duration?
    private let connection: AMQPConnection
    private let logger: Logger
    private let holder = UUID().uuidString.lowercased()
    private var holdQueue: String { "trib.hold.\(holder)" }

    private struct State {
        var held: [UInt64: HeldDelivery] = [:]
        var nextNumber: UInt64 = 1
        var renewals: Task<Void, Never>?
        var holdQueueReady = false
        var closed = false
    }
    private let state = Mutex(State())

    init(connection: AMQPConnection, renewAfter: Duration?, logger: Logger) {
        self.connection = connection
        self.renewAfter = renewAfter
        self.logger = logger
    }

    /// The renewal delay set by `TRIB_RENEW_HELD_AFTER` (seconds; `0` or `off`: never), else 10
    /// minutes: a third of RabbitMQ's default `consumer_timeout` of 30 minutes.
    static func configuredRenewal(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Duration? {
        guard let text = environment["TRIB_RENEW_HELD_AFTER"] else { return .seconds(600) }
        if text == "off" || text == "0" { return nil }
        guard let seconds = Double(text), seconds > 0, seconds.isFinite else {
            throw TributaryError.invalidConfiguration("TRIB_RENEW_HELD_AFTER is '\(text)': give the seconds after which "
                + "a held delivery is renewed (below the broker's consumer_timeout), or 'off'")
        }
        return .milliseconds(Int64(seconds * 1_000))
    }

    /// Starts holding `delivery`, taken from `queue`: from now on it is settled through the result.
    func hold(_ delivery: AMQPDelivery, from queue: String) -> HeldDelivery {
        let start = state.withLock { state -> (HeldDelivery, Bool) in
            let held = HeldDelivery(number: state.nextNumber, original: delivery, queue: queue) { [weak self] number in
                self?.state.withLock { _ = $0.held.removeValue(forKey: number) }
            }
            state.nextNumber += 1
            guard renewAfter != nil, !state.closed else { return (held, false) }
            state.held[held.number] = held
            return (held, state.renewals == nil)
        }
        if start.1 { startRenewals() }
        return start.0
    }

    /// Stops renewing; what is held stays held until the connection closes.
    func close() {
        state.withLock { state in
            state.closed = true
            state.renewals?.cancel()
            state.held.removeAll()
        }
    }

    private func startRenewals() {
        guard let renewAfter else { return }
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: renewAfter / 4)
                await self?.renewDue(olderThan: renewAfter)
            }
        }
        let keep = state.withLock { state -> Bool in
            guard state.renewals == nil, !state.closed else { return false }
            state.renewals = task
            return true
        }
        if !keep { task.cancel() }
    }

    private func renewDue(olderThan age: Duration) async {
        let due = state.withLock { $0.held.values.filter { $0.startRenewal(ifOlderThan: age) } }
        guard !due.isEmpty else { return }
        do {
            try await prepareHoldQueue()
        } catch {
            logger.warning("could not open the hold queue to renew held deliveries; trying again", metadata: [
                "error": "\(error)",
            ])
            for held in due { held.renewalFailed() }
            return
        }
        logger.debug("renewing held deliveries", metadata: ["count": "\(due.count)"])
        for held in due {
            guard let tag = held.currentTag else { continue }
            connection.publish(copy(of: held), whileHolding: tag) { [weak self] result in
                guard case .failure(let error) = result else { return }
                if error.kind == .connectionLost {
                    // The broker has taken the delivery back: it is no longer this connection's.
                    self?.state.withLock { _ = $0.held.removeValue(forKey: held.number) }
                } else {
                    held.renewalFailed()
                }
            }
        }
    }

    private func copy(of held: HeldDelivery) -> OutboundMessage {
        var properties = held.original.properties
        properties.headers[Self.copyHeader] = .string("\(holder)/\(held.number)")
        properties.headers["CC"] = .array([.string(held.queue)])
        return OutboundMessage(exchange: Self.holdExchange, routingKey: holder, properties: properties,
                               body: held.original.body)
    }

    private func prepareHoldQueue() async throws {
        guard !state.withLock({ $0.holdQueueReady }) else { return }
        try await connection.declare(ExchangeDeclaration(name: Self.holdExchange, kind: .direct))
        try await connection.declare(QueueDeclaration(name: holdQueue, arguments: [
            "x-message-ttl": .int(0),
            "x-dead-letter-exchange": .string(""),
            // Gone a while after this process is: it holds nothing then (its messages live 0 ms).
            "x-expires": .int(600_000),
        ]))
        try await connection.bind(QueueBinding(queue: holdQueue, exchange: Self.holdExchange, routingKey: holder))
        _ = try await connection.consume(queue: holdQueue, prefetch: 0, onDelivery: { [weak self] copy in
            self?.received(copy)
        }, onEnd: {})
        state.withLock { $0.holdQueueReady = true }
    }

    /// A copy came back (on the connection thread): it takes the older delivery's place, or, if
    /// that was settled meanwhile, it is dropped.
    private func received(_ copy: AMQPDelivery) {
        let number = copy.properties.headers[Self.copyHeader]?.stringValue
            .flatMap { $0.split(separator: "/").last }.flatMap { UInt64($0) }
        guard let number, let held = state.withLock({ $0.held[number] }), let older = held.renew(with: copy.tag) else {
            connection.ack(copy.tag)
            return
        }
        connection.ack(older)
    }
}

/// One delivery a ``HeldDeliveries`` keeps clear of the delivery timeout: settled through here,
/// on whichever delivery (the original or its latest copy) holds the message now.
final class HeldDelivery: Sendable {
    let number: UInt64
    /// The delivery as it was first handed here: its message, properties and routing.
    let original: AMQPDelivery
    /// The queue it was taken from, where it goes back if this process lets go of it.
    let queue: String
    private let forget: @Sendable (UInt64) -> Void

    private struct State {
        var tag: DeliveryTag
        var since = ContinuousClock.now
        var isCopy = false
        var renewing = false
        var settled = false
    }
    private let state: Mutex<State>

    init(number: UInt64, original: AMQPDelivery, queue: String, forget: @escaping @Sendable (UInt64) -> Void) {
        self.number = number
        self.original = original
        self.queue = queue
        self.forget = forget
        self.state = Mutex(State(tag: original.tag))
    }

    var currentTag: DeliveryTag? { state.withLock { $0.settled ? nil : $0.tag } }

    /// Marks it as being renewed if it is held and older than `age`.
    func startRenewal(ifOlderThan age: Duration) -> Bool {
        state.withLock { state in
            guard !state.settled, !state.renewing, state.since.duration(to: .now) >= age else { return false }
            state.renewing = true
            return true
        }
    }

    func renewalFailed() {
        state.withLock { $0.renewing = false }
    }

    /// The copy with `tag` holds the message now; returns the older delivery's tag to acknowledge,
    /// or nil if it was settled meanwhile (then the copy is dropped).
    func renew(with tag: DeliveryTag) -> DeliveryTag? {
        state.withLock { state in
            guard !state.settled else { return nil }
            defer { (state.tag, state.since, state.isCopy, state.renewing) = (tag, .now, true, false) }
            return state.tag
        }
    }

    /// Tells the broker what became of the message. A copy put back goes back to the queue the
    /// message came from (rejected, it dead-letters there), not to the hold queue.
    func settle(_ settlement: Settlement, on connection: AMQPConnection) {
        let (tag, isCopy) = state.withLock { state -> (DeliveryTag?, Bool) in
            guard !state.settled else { return (nil, false) }
            state.settled = true
            return (state.tag, state.isCopy)
        }
        guard let tag else { return }
        forget(number)
        if isCopy, case .requeue = settlement {
            connection.reject(tag, requeue: false)
        } else {
            AMQPBroker.settle(original, settlement, tag: tag, on: connection)
        }
    }
}

extension AMQPDelivery {
    /// Handed out before: redelivered by the broker, or a held copy whose holder let go of it.
    var wasHeldBefore: Bool {
        redelivered || properties.headers[HeldDeliveries.copyHeader] != nil
    }
}
