import CAMQPShim
import CRabbitMQ
import DequeModule
import Foundation
import Glibc
import Logging
import Synchronization

/// Owns one rabbitmq-c connection on one dedicated thread. Other threads only append commands to the
/// inbox and wake the thread; everything that touches the C connection runs on the thread. The thread
/// sleeps in poll() on the socket and a wake-up pipe, with a timeout only for heartbeats.
final class ConnectionLoop: @unchecked Sendable {
    struct Inbox {
        var commands: Deque<ConnectionCommand> = []
        /// Set when the connection has ended for good; later commands fail at once with it.
        var terminalError: AMQPError?
    }

    /// How often the broker may close the connection while one publish is in flight before that
    /// publish fails rather than being sent again.
    static let maxBrokerClosuresPerPublish = 5
    static let dataChannel: amqp_channel_t = 1
    static let controlChannel: amqp_channel_t = 2

    let configuration: AMQPConfiguration
    let logger: Logger
    let inbox = Mutex(Inbox())
    let wakeup = Wakeup()
    let closeRequested = Atomic<Bool>(false)

    // Everything below is touched only on the connection thread.
    var connection: amqp_connection_state_t?
    var generation = 0
    /// The node of `configuration.nodes` this connection is on, or tries first.
    var currentNode = 0
    var topology = DeclaredTopology()
    var consumers: [String: ConsumerRecord] = [:]
    var consumerOrder: [String] = []
    /// The latest no-ack consumers cancelled: a delivery for one may still be on its way (read
    /// while waiting for cancel-ok), and it must be dropped, since it cannot be handed back.
    var cancelledNoAckTags: [String] = []
    static let cancelledNoAckMemory = 64
    var unconfirmed: [UInt64: PendingPublish] = [:]
    var nextPublishTag: UInt64 = 1
    var lowestUnconfirmedTag: UInt64 = 1
    var toResend: Deque<PendingPublish> = []
    var partialDelivery: PartialDelivery?

    init(configuration: AMQPConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Hands a command to the thread. Fails it at once if the connection has ended.
    func submit(_ command: ConnectionCommand) {
        let (wasEmpty, terminal) = inbox.withLock { inbox -> (Bool, AMQPError?) in
            if let error = inbox.terminalError { return (false, error) }
            inbox.commands.append(command)
            return (inbox.commands.count == 1, nil)
        }
        if let terminal {
            command.fail(terminal)
        } else if wasEmpty {
            wakeup.signal()
        }
    }

    /// The thread's body: connect, report the outcome through `started`, then serve until closed.
    func run(started: @escaping @Sendable (AMQPError?) -> Void) {
        do {
            try openSession()
        } catch {
            end(with: error)
            started(error)
            return
        }
        started(nil)
        serve()
    }

    private func serve() {
        while true {
            do {
                if try drainCommands() { return }
                try pumpFrames()
                try waitForWork()
            } catch {
                if closeRequested.load(ordering: .relaxed) || !reconnect(after: error) {
                    end(with: closeRequested.load(ordering: .relaxed)
                        ? AMQPError(.closed, message: "the connection was closed") : error)
                    return
                }
            }
        }
    }

    /// Runs every queued command. Returns true when a close command ended the connection.
    private func drainCommands() throws(AMQPError) -> Bool {
        while true {
            // Taken whole, so that popping from it never copies the batch.
            var remaining = inbox.withLock { inbox -> Deque<ConnectionCommand> in
                guard !inbox.commands.isEmpty else { return [] }
                let batch = inbox.commands
                inbox.commands = Deque(minimumCapacity: batch.count)
                return batch
            }
            if remaining.isEmpty { return false }
            while var command = remaining.popFirst() {
                if case .publishPacked(let message, let packer, let handler) = command {
                    command = packing(message, packer, handler, from: &remaining)
                }
                if case .close(let continuation) = command {
                    closeSession()
                    end(with: AMQPError(.closed, message: "the connection was closed"))
                    for other in remaining { other.fail(AMQPError(.closed, message: "the connection was closed")) }
                    continuation.resume()
                    return true
                }
                do {
                    try execute(command)
                } catch {
                    // The command that hit the broken connection is retried after the reconnect.
                    inbox.withLock { inbox in
                        for later in remaining.reversed() { inbox.commands.prepend(later) }
                        if command.isRetriedAfterReconnect { inbox.commands.prepend(command) }
                    }
                    throw error
                }
            }
        }
    }

    /// One publish for `first` and the publishes queued after it that `packer` may merge with it.
    /// Acks, nacks and rejects between them are passed over (they then run after the merged
    /// publish, in their order); any other command ends the run.
    private func packing(_ first: OutboundMessage, _ packer: MessagePacker, _ handler: ConfirmHandler?,
                         from remaining: inout Deque<ConnectionCommand>) -> ConnectionCommand {
        var messages = [first], handlers = [handler], bytes = first.body.count
        var passed: [ConnectionCommand] = []
        // Taken off the front as it goes: the rest of a batch of thousands is never copied.
        scan: while messages.count < packer.maxMessages, let next = remaining.first {
            switch next {
            case .publishPacked(let message, let nextPacker, let nextHandler)
                where nextPacker === packer && packer.fits(message, with: first) && bytes + message.body.count <= packer.maxBytes:
                messages.append(message)
                handlers.append(nextHandler)
                bytes += message.body.count
            case .ack, .nack, .reject:
                passed.append(next)
            default:
                break scan
            }
            remaining.removeFirst()
        }
        remaining.prepend(contentsOf: passed)
        guard messages.count > 1 else { return .publish(first, handler) }
        let confirmHandlers = handlers
        return .publish(packer.merge(messages)) { result in
            for handler in confirmHandlers { handler?(result) }
        }
    }

    /// Sleeps until the socket is readable, a command arrives, or a heartbeat is due.
    private func waitForWork() throws(AMQPError) {
        guard let connection else { return }
        let pending = inbox.withLock { !$0.commands.isEmpty }
        if pending || amqp_frames_enqueued(connection) != 0 || amqp_data_in_buffer(connection) != 0 { return }
        let heartbeat = Int32(amqp_get_heartbeat(connection))
        let timeoutMs: Int32 = heartbeat > 0 ? max(heartbeat * 500, 100) : -1
        var fds = [
            pollfd(fd: amqp_get_sockfd(connection), events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeup.readFD, events: Int16(POLLIN), revents: 0),
        ]
        let result = poll(&fds, 2, timeoutMs)
        if result < 0 && errno != EINTR {
            throw AMQPError(.connectionLost, message: "poll() on the broker socket failed: errno \(errno)")
        }
        if fds[1].revents != 0 { wakeup.drain() }
    }

    /// Re-opens a broken connection with backoff, re-declares topology, resumes consumers and
    /// re-sends unconfirmed publishes. Returns false when the policy gives up or a close arrives.
    private func reconnect(after error: AMQPError) -> Bool {
        logger.warning("connection to the broker lost; reconnecting", metadata: [
            "broker": "\(configuration.redactedURL(of: configuration.nodes[currentNode]))", "error": "\(error)",
        ])
        dropSession(brokerError: error.kind == .connectionClosedByBroker ? error : nil)
        // The node just lost is tried last.
        currentNode = (currentNode + 1) % configuration.nodes.count
        var attempt = 0
        while true {
            attempt += 1
            if let max = configuration.reconnect.maxAttempts, attempt > max {
                logger.error("giving up reconnecting after \(max) attempts", metadata: ["error": "\(error)"])
                return false
            }
            if sleepUnlessClosed(configuration.reconnect.delay(beforeAttempt: attempt)) { return false }
            do {
                try openSession()
                logger.info("reconnected to the broker", metadata: [
                    "broker": "\(configuration.redactedURL(of: configuration.nodes[currentNode]))", "attempt": "\(attempt)",
                    "resent": "\(toResend.count)",
                ])
                try resendUnconfirmed()
                return true
            } catch {
                logger.debug("reconnect attempt \(attempt) failed: \(error)")
                dropSession()
            }
        }
    }

    /// Waits `delay` on the wake-up pipe. Returns true if a close was requested meanwhile.
    private func sleepUnlessClosed(_ delay: Duration) -> Bool {
        let deadline = ContinuousClock.now + delay
        while ContinuousClock.now < deadline {
            if closeRequested.load(ordering: .relaxed) { return true }
            let remaining = ContinuousClock.now.duration(to: deadline)
            let ms = Int32(max(1, remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000))
            var fd = pollfd(fd: wakeup.readFD, events: Int16(POLLIN), revents: 0)
            if poll(&fd, 1, ms) > 0 { wakeup.drain() }
        }
        return closeRequested.load(ordering: .relaxed)
    }

    /// Ends the connection for good: every waiter learns `error`, consumers' streams finish.
    private func end(with error: AMQPError) {
        dropSession()
        let leftover = inbox.withLock { inbox -> Deque<ConnectionCommand> in
            inbox.terminalError = error
            defer { inbox.commands.removeAll() }
            return inbox.commands
        }
        for command in leftover { command.fail(error) }
        for pending in toResend { pending.onConfirm?(.failure(error)) }
        toResend.removeAll()
        for (_, record) in consumers { record.onEnd() }
        consumers.removeAll()
        consumerOrder.removeAll()
    }
}
