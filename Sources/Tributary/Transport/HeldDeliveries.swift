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
    /// `claimed`: it is in use from the start (a journal entry, a slot); otherwise it waits until
    /// its consumer claims it, and if it waits past the renewal delay it goes back to its queue.
    func hold(_ delivery: AMQPDelivery, from queue: String, claimed: Bool = false) -> HeldDelivery {
        // Never renewed: nothing to keep track of, and no lock on a task's way through.
        guard renewAfter != nil else {
            return HeldDelivery(number: 0, original: delivery, queue: queue, claimed: claimed) { _ in }
        }
        let start = state.withLock { state -> (HeldDelivery, Bool) in
            let held = HeldDelivery(number: state.nextNumber, original: delivery, queue: queue,
                                    claimed: claimed) { [weak self] number in
                self?.state.withLock { _ = $0.held.removeValue(forKey: number) }
            }
            state.nextNumber += 1
            guard !state.closed else { return (held, false) }
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
                guard let self else { return }
                await self.renewDue(olderThan: renewAfter)
            }
        }
        let keep = state.withLock { state -> Bool in
            guard state.renewals == nil, !state.closed else { return false }
            state.renewals = task
            return true
        }
        if !keep { task.cancel() }
    }

    /// Copies sent at once, at most: a classic queue stops delivering to a channel that has about
    /// 200 of its messages not yet sent, and a copy (TTL 0) that cannot be delivered at once
    /// expires straight back to its queue while the older delivery is still held here.
    static let copiesInFlight = 50
    /// How long a batch of copies may take to come back.
    static let copyReturnWait = Duration.seconds(10)

    private func renewDue(olderThan age: Duration) async {
        let due = state.withLock { $0.held.values.filter { $0.startRenewal(ifOlderThan: age) } }
        let handBacks = due.filter(\.isHandingBack), renewals = due.filter { !$0.isHandingBack }
        if !handBacks.isEmpty {
            // Plain copies to their own queues: they need no hold queue, and their confirms end them.
            logger.info("handing back deliveries that waited here past the renewal delay, for another consumer",
                        metadata: ["count": "\(handBacks.count)", "queue": "\(handBacks[0].queue)"])
            for held in handBacks { send(copyOf: held) }
        }
        guard !renewals.isEmpty else { return }
        do {
            try await prepareHoldQueue()
        } catch {
            logger.warning("could not open the hold queue to renew held deliveries; trying again", metadata: [
                "error": "\(error)",
            ])
            for held in renewals { held.renewalEnded() }
            return
        }
        for held in renewals { held.renewalDue() }
        logger.debug("renewing held deliveries", metadata: ["count": "\(renewals.count)"])
        for start in stride(from: 0, to: renewals.count, by: Self.copiesInFlight) {
            let batch = renewals[start..<min(renewals.count, start + Self.copiesInFlight)]
            for held in batch { send(copyOf: held) }
            let deadline = ContinuousClock.now + Self.copyReturnWait
            while batch.contains(where: \.isRenewing), ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(5))
            }
            let lost = batch.filter(\.isRenewing)
            if !lost.isEmpty {
                logger.error("held copies did not come back to this process; their messages may now also be on their queues",
                             metadata: ["count": "\(lost.count)", "queue": "\(lost[0].queue)"])
                for held in lost { held.renewalEnded() }
            }
        }
    }

    /// Sends a held copy (in use: it comes back here), or a plain one straight to the queue the
    /// message came from (it waited unclaimed: the older delivery is acknowledged once the broker
    /// has the copy, which counts as a first delivery, not a redelivery).
    private func send(copyOf held: HeldDelivery) {
        guard let tag = held.currentTag else { return held.renewalEnded() }
        let handingBack = held.isHandingBack
        connection.publish(handingBack ? plainCopy(of: held) : copy(of: held), whileHolding: tag) { [weak self, connection] result in
            switch result {
            case .success:
                if handingBack { held.settleHandBack(.ack, on: connection) }
            case .failure(let error) where error.kind == .connectionLost:
                // The broker has taken the delivery back: it is no longer this connection's.
                self?.state.withLock { _ = $0.held.removeValue(forKey: held.number) }
            case .failure:
                // Its consumer may no longer claim it: it goes back as a redelivery.
                if handingBack { held.settleHandBack(.requeue, on: connection) }
            }
            held.renewalEnded()
        }
    }

    /// A redelivered message keeps its mark, so whoever takes it next still counts it.
    private func plainCopy(of held: HeldDelivery) -> OutboundMessage {
        var properties = Self.withoutRouting(held.original.properties)
        if held.original.wasHeldBefore { properties.headers[Self.copyHeader] = .string("handed-back") }
        return OutboundMessage(routingKey: held.queue, properties: properties, body: held.original.body,
                               resendAfterReconnect: false)
    }

    private func copy(of held: HeldDelivery) -> OutboundMessage {
        var properties = Self.withoutRouting(held.original.properties)
        properties.headers[Self.copyHeader] = .string("\(holder)/\(held.number)")
        properties.headers["CC"] = .array([.string(held.queue)])
        return OutboundMessage(exchange: Self.holdExchange, routingKey: holder, properties: properties,
                               body: held.original.body)
    }

    /// `properties` without what routed or dead-lettered the message before (`CC`, `BCC`, the held
    /// copy's mark, `x-death` and the first death's headers), for a new publish of it.
    static func withoutRouting(_ properties: AMQPProperties) -> AMQPProperties {
        var properties = properties
        for name in ["CC", "BCC", copyHeader, "x-death", "x-first-death-reason", "x-first-death-queue",
                     "x-first-death-exchange"] {
            properties.headers[name] = nil
        }
        return properties
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
        }, onEnd: { [weak self] in
            // The broker ended the consumer (the queue went away): declare and consume it again.
            self?.state.withLock { $0.holdQueueReady = false }
        })
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
    /// Called each time it comes due for renewal (a pack returns what it has not started).
    private let dueHook = Mutex<(@Sendable () -> Void)?>(nil)

    private struct State {
        var tag: DeliveryTag
        var since = ContinuousClock.now
        var isCopy = false
        var renewing = false
        var settled = false
        var claimed: Bool
        /// Not claimed when it came due: it goes back to its queue, and can no longer be claimed.
        var handingBack = false
    }
    private let state: Mutex<State>

    init(number: UInt64, original: AMQPDelivery, queue: String, claimed: Bool,
         forget: @escaping @Sendable (UInt64) -> Void) {
        self.number = number
        self.original = original
        self.queue = queue
        self.forget = forget
        self.state = Mutex(State(tag: original.tag, claimed: claimed))
    }

    var currentTag: DeliveryTag? { state.withLock { $0.settled ? nil : $0.tag } }

    /// Calls `hook` each time the delivery comes due for renewal, before its copy is sent.
    func onRenewalDue(_ hook: @escaping @Sendable () -> Void) {
        dueHook.withLock { $0 = hook }
    }

    /// Runs the hook given to ``onRenewalDue(_:)``, if any: the delivery is due for renewal now.
    func renewalDue() {
        dueHook.withLock { $0 }?()
    }

    /// Claims it for its consumer to act on; false if it is going back to its queue.
    func claim() -> Bool {
        state.withLock { state in
            guard !state.handingBack else { return false }
            state.claimed = true
            return true
        }
    }

    var isHandingBack: Bool { state.withLock { $0.handingBack } }

    /// Marks it as being renewed (or, unclaimed, handed back) if it is held and older than `age`.
    func startRenewal(ifOlderThan age: Duration) -> Bool {
        state.withLock { state in
            guard !state.settled, !state.renewing, state.since.duration(to: .now) >= age else { return false }
            state.renewing = true
            if !state.claimed { state.handingBack = true }
            return true
        }
    }

    /// Whether a copy is on its way.
    var isRenewing: Bool { state.withLock { $0.renewing && !$0.settled } }

    /// The copy came back, failed or was given up on.
    func renewalEnded() {
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
    /// message came from (rejected, it dead-letters there), not to the hold queue. Once it is
    /// being handed back, only the hand-back settles it.
    func settle(_ settlement: Settlement, on connection: AMQPConnection) {
        settle(settlement, handingBack: false, on: connection)
    }

    /// Settles it as the hand-back ends: acknowledged once its plain copy is on its queue.
    func settleHandBack(_ settlement: Settlement, on connection: AMQPConnection) {
        settle(settlement, handingBack: true, on: connection)
    }

    private func settle(_ settlement: Settlement, handingBack: Bool, on connection: AMQPConnection) {
        let (tag, isCopy) = state.withLock { state -> (DeliveryTag?, Bool) in
            guard !state.settled, state.handingBack == handingBack else { return (nil, false) }
            state.settled = true
            return (state.tag, state.isCopy)
        }
        guard let tag else { return }
        forget(number)
        if isCopy, case .requeue = settlement {
            connection.reject(tag, requeue: false)
        } else {
            AMQPBroker.settle(original, settlement, from: queue, tag: tag, on: connection)
        }
    }
}

extension AMQPDelivery {
    /// Handed out before: redelivered by the broker, or a held copy whose holder let go of it.
    var wasHeldBefore: Bool {
        redelivered || properties.headers[HeldDeliveries.copyHeader] != nil
    }
}
