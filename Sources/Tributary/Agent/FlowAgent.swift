import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Takes submitted flow runs from work queues and runs each with the client's coordinator, the
/// same one `client.run` uses (its tasks go to the workers on their task queues), at most
/// `concurrency` at once. A run's message is acknowledged once the run has ended and its final
/// status is on its board; if the agent dies first the broker hands the run to another agent,
/// which runs it again under the same id.
///
/// On graceful shutdown (SIGTERM) it stops taking runs, lets the ones it runs finish for up to
/// `shutdownGrace`, and hands the rest back to their work queue for another agent (they are not
/// ended).
public final class FlowAgent: Service {
    public struct Configuration: Sendable {
        public var workQueues: [String]
        public var concurrency: Int
        public var id: String
        /// Times one run may be handed to agents without an outcome (they died) before it ends Crashed.
        public var maxDeliveries: Int
        public var shutdownGrace: Duration
        /// How often the agent checks that no other agent has resumed the runs it runs (it could
        /// have been cut off from the broker long enough for its runs to be handed on).
        public var ownershipCheckInterval: Duration

        public init(workQueues: [String] = ["default"], concurrency: Int = 4, id: String = Worker.defaultID(),
                    maxDeliveries: Int = 5, shutdownGrace: Duration = .seconds(30),
                    ownershipCheckInterval: Duration = .seconds(5)) {
            self.ownershipCheckInterval = ownershipCheckInterval
            self.workQueues = workQueues
            self.concurrency = concurrency
            self.id = id
            self.maxDeliveries = maxDeliveries
            self.shutdownGrace = shutdownGrace
        }
    }

    private struct Running {
        /// The run's message as this agent holds it now (the broker may have handed it back here).
        var delivery: FlowRunDelivery
        let journal: RunJournal
        var handedBack = false
    }

    private let client: Tributary
    private let transport: any FlowRunTransport
    public let configuration: Configuration
    private let logger: Logger
    private let running = Mutex<[String: Running]>([:])
    private let counters = Mutex<(completed: Int, failed: Int, discarded: Int, handedBack: Int, abandoned: Int)>(
        (0, 0, 0, 0, 0))
    /// Runs taken and not yet settled, and whether the agent stopped waiting for them.
    private let inProgress = Mutex<(active: Int, abandoned: Bool)>((0, false))
    /// Ticks when a run ends or the agent hands its runs back.
    private let changes: AsyncStream<Void>.Continuation
    private let changesStream: AsyncStream<Void>

    /// An agent for `client` (whose registry has the flows it runs), taking runs through `transport`.
    init(client: Tributary, transport: any FlowRunTransport, configuration: Configuration, logger: Logger) {
        self.client = client
        self.transport = transport
        (changesStream, changes) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "agent"] = "\(configuration.id)"
        self.logger = logger
    }

    public func run() async throws {
        let slots = AsyncSemaphore(permits: max(1, configuration.concurrency))
        var consumers: [any FlowRunConsumer] = []
        for workQueue in configuration.workQueues {
            consumers.append(try await transport.consumeFlowRuns(from: workQueue, prefetch: configuration.concurrency))
        }
        logger.info("agent ready", metadata: [
            "work-queues": "\(configuration.workQueues.joined(separator: ","))",
            "concurrency": "\(configuration.concurrency)",
            "flows": "\(client.registry.flowNames.joined(separator: ","))",
        ])
        let (deliveries, merged) = AsyncStream.makeStream(of: FlowRunDelivery.self)
        let stopped = Countdown(consumers.count) { merged.finish() }
        let all = consumers
        for consumer in all {
            Task {
                for await delivery in consumer.deliveries { merged.yield(delivery) }
                stopped.tick()
            }
        }
        let ownership = Task { await self.checkOwnershipPeriodically() }
        defer { ownership.cancel() }
        await withGracefulShutdownHandler {
            // Each run in a task of its own, not a child: after the shutdown grace the agent
            // stops waiting for the runs it handed back, and they stop with the process.
            for await delivery in deliveries {
                await slots.wait()
                inProgress.withLock { $0.active += 1 }
                Task {
                    await self.take(delivery)
                    slots.signal()
                    self.inProgress.withLock { $0.active -= 1 }
                    self.changes.yield()
                }
            }
            if inProgress.withLock({ $0.active > 0 && !$0.abandoned }) {
                for await _ in changesStream where inProgress.withLock({ $0.active == 0 || $0.abandoned }) { break }
            }
        } onGracefulShutdown: {
            Task {
                for consumer in all { await consumer.stop() }
                try? await Task.sleep(for: self.configuration.shutdownGrace)
                self.handBackUnfinished()
            }
        }
        let c = counters.withLock { $0 }
        logger.info("agent stopped", metadata: [
            "completed": "\(c.completed)", "failed": "\(c.failed)", "discarded": "\(c.discarded)",
            "handed-back": "\(c.handedBack)", "abandoned": "\(c.abandoned)",
        ])
    }

    /// Every `ownershipCheckInterval`, asks each run's board whether another agent has resumed it
    /// (this agent was cut off long enough for the broker to hand the run on); such a run is
    /// stopped here without a word to workers, and this agent sends nothing more for it.
    private func checkOwnershipPeriodically() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.ownershipCheckInterval)
            let runs = running.withLock { $0.filter { !$0.value.handedBack }.map { ($0.key, $0.value.journal) } }
            for (flowRunID, journal) in runs where await !journal.checkOwnership() {
                logger.warning("another agent has resumed this flow run; stopping it here", metadata: [
                    "flow-run": "\(flowRunID)", "epoch": "\(journal.epoch)",
                ])
                _ = client.activeFlowRuns.cancel(flowRunID, reason: "resumed by another agent")
            }
        }
    }

    /// The shutdown grace is over: every run still going goes back to its work queue, to run again
    /// on another agent. Their flows stop with this process.
    private func handBackUnfinished() {
        let handedBack = running.withLock { running -> [FlowRunDelivery] in
            var deliveries: [FlowRunDelivery] = []
            for (id, entry) in running where !entry.handedBack {
                running[id]?.handedBack = true
                deliveries.append(entry.delivery)
            }
            return deliveries
        }
        guard !handedBack.isEmpty else { return }
        logger.warning("shutdown grace over: handing back flow runs to their work queue", metadata: [
            "flow-runs": "\(handedBack.count)",
        ])
        counters.withLock { $0.handedBack += handedBack.count }
        for delivery in handedBack { delivery.settle(.requeue) }
        inProgress.withLock { $0.abandoned = true }
        changes.yield()
    }

    /// What its heartbeat reports: runs it runs now, and those it finished since it started.
    public var activity: Activity {
        let c = counters.withLock { $0 }
        let runs = running.withLock { Array($0.keys) }
        return Activity(running: runs.count, completed: c.completed, failed: c.failed, flowRuns: runs)
    }

    /// Each work queue's limit as last read, and when: read again after ``limitCacheTime``.
    private let limits = Mutex<[String: (limit: WorkQueueLimit?, readAt: ContinuousClock.Instant)]>([:])
    static let limitCacheTime = Duration.seconds(5)

    /// The work queue's limit, if it has one (read from the broker at most every few seconds).
    private func limit(of workQueue: String) async throws -> WorkQueueLimit? {
        if let cached = limits.withLock({ $0[workQueue] }), cached.readAt.duration(to: .now) < Self.limitCacheTime {
            return cached.limit
        }
        let limit = try await transport.limit(of: workQueue)
        limits.withLock { $0[workQueue] = (limit, .now) }
        return limit
    }

    /// Runs one submitted flow run to its end (holding a slot of its work queue, if that has a
    /// limit), or settles its message without running it.
    private func take(_ delivery: FlowRunDelivery) async {
        // Waited for a slot here so long that it went back to its work queue for another agent.
        guard delivery.claim() else { return }
        guard case .success(let message) = delivery.content else { return await execute(delivery) }
        let slot: WorkQueueSlot
        do {
            guard let limit = try await limit(of: message.workQueue) else { return await execute(delivery) }
            slot = try await transport.acquireSlot(of: limit)
        } catch {
            logger.error("could not take a slot of the work queue; handing the run back", metadata: [
                "work-queue": "\(message.workQueue)", "error": "\(error)",
            ])
            delivery.settle(.requeue)
            return
        }
        await execute(delivery)
        await slot.release()
    }

    private func execute(_ delivery: FlowRunDelivery) async {
        let message: FlowRunMessage
        switch delivery.content {
        case .failure(let problem):
            logger.error("dead-lettered a malformed flow-run message", metadata: ["reason": "\(problem.reason)"])
            delivery.settle(.deadLetter(reason: problem.reason))
            return
        case .success(let decoded):
            message = decoded
        }
        var logger = self.logger
        logger[metadataKey: "flow"] = "\(message.flowName)"
        logger[metadataKey: "flow-run"] = "\(message.flowRunID)"
        // This agent still runs it: the broker took back the message it held (a closed channel,
        // a reconnect) and handed it (or a re-counted copy) here again, or a second copy of its
        // message came. It is kept, not run twice, and the new delivery holds the run from now on.
        let replaced = running.withLock { entries -> FlowRunDelivery? in
            guard let entry = entries[message.flowRunID] else { return nil }
            entries[message.flowRunID]!.delivery = delivery
            return entry.delivery
        }
        if let replaced {
            // Acknowledged, not held until this agent exits: a delivery of a channel the broker
            // closed is ignored (the broker took its message back already), and a second copy
            // still held on this channel is one too many.
            replaced.settle(.ack)
            logger.info("the broker handed back a flow run this agent still runs; it goes on here")
            return
        }
        guard !delivery.redelivered, client.registry.flow(named: message.flowName) != nil else {
            return await settleWithoutRunning(delivery, message, logger: logger)
        }
        // A first delivery of this take is claimed before its board is read: the won claim's read
        // says whether the run has ended or been taken again since, so a run starts after one
        // read of its board, not two.
        guard case .won(let board) = await claim(delivery, message, logger: logger) else { return }
        let status = board ?? FlowRunStatus.pending(message)
        let epoch = message.deliveries, transport = self.transport, flowRunID = message.flowRunID
        client.activeFlowRuns.reserve(message.flowRunID, flowName: message.flowName)
        let now = Date(), firstStarted = status.firstStartedAt ?? now
        let journal = RunJournal(retention: client.flowRunRetention, epoch: epoch, firstStarted: firstStarted,
                                 agentID: configuration.id, workQueue: message.workQueue) {
            // Still ours unless a later take of the run (another agent) wrote its board; a board
            // that cannot be read (gone past its retention, the broker unreachable) says nothing.
            guard let board = try? await transport.status(of: flowRunID) else { return true }
            return board.epoch <= epoch
        }
        running.withLock { $0[message.flowRunID] = Running(delivery: delivery, journal: journal) }
        var started = status.next(.running, agentID: configuration.id, epoch: epoch)
        started.startedAt = now
        started.firstStartedAt = firstStarted
        // The flow starts while its Running status is on its way (a broker round trip less before
        // its first task); the end is written only after it.
        let recorded = Task { [transport, logger] in
            do {
                try await transport.publish(status: started)
            } catch {
                logger.error("could not record the flow run as Running", metadata: ["error": "\(error)"])
            }
        }
        let final: FlowRunStatus
        do {
            let output = try await client.run(flowNamed: message.flowName, input: Array(message.input.utf8),
                                              flowRunID: message.flowRunID, journal: journal)
            final = started.next(.completed, output: String(decoding: output, as: UTF8.self))
        } catch {
            final = started.next(FlowRunState(FlowState(endedBy: error)), error: RemoteError(
                type: String(describing: type(of: error)), message: String(describing: error), retryable: false))
        }
        guard let entry = running.withLock({ $0.removeValue(forKey: message.flowRunID) }), !entry.handedBack else {
            return
        }
        let held = entry.delivery
        await recorded.value
        // Asked now, not at the last check (every few seconds): a final status written after
        // another agent resumed the run would land on its board over the newer take's.
        if await !journal.checkOwnership() {
            // The run is the other agent's now, with a message of its own: this one's is a stale copy.
            held.settle(.ack)
            counters.withLock { $0.abandoned += 1 }
            logger.warning("stopped a flow run another agent has resumed", metadata: ["epoch": "\(epoch)"])
            // A copy of this take that comes later finds the newer take on the board and is dropped.
            await transport.releaseClaim(flowRunID: flowRunID, epoch: epoch)
            return
        }
        do {
            try await transport.publish(status: final)
        } catch {
            logger.error("could not record the flow run's end; handing it back", metadata: ["error": "\(error)"])
            held.settle(.requeue)
            return
        }
        counters.withLock { final.state == .completed ? ($0.completed += 1) : ($0.failed += 1) }
        held.settle(.ack)
        // Only once its end is recorded: an agent that dies before then resumes from the journal.
        await journal.deleteAll()
        await transport.releaseClaim(flowRunID: flowRunID, epoch: epoch)
    }

    /// What became of a claim of a take.
    private enum ClaimOutcome {
        /// This copy runs the take; the run's board as read after the claim (nil if it has none).
        case won(FlowRunStatus?)
        /// This copy was dropped or handed back.
        case settled
    }

    /// Claims this take of the run (its first, or a resumed one re-counted from a message that
    /// came back with no outcome). A take's message can come in two copies: a submit published
    /// again after a reconnect lost its confirm, or an agent that died while it renewed the
    /// message. Either can reach this agent or another: only the first claimed runs, and the
    /// other is dropped. A won claim then reads the board: a run that has ended (a copy that came
    /// after its twin ran to its end and released the claim, or a run cancelled while queued) or
    /// that a later take has resumed is discarded. Its claim is kept (until it expires with the
    /// retention): any later copy of that take is dropped by it, whatever the board says then.
    private func claim(_ delivery: FlowRunDelivery, _ message: FlowRunMessage, logger: Logger) async -> ClaimOutcome {
        let token = "\(configuration.id) \(UUID().uuidString)"
        do {
            if try await transport.claim(flowRunID: message.flowRunID, epoch: message.deliveries, token: token,
                                         retention: client.flowRunRetention) {
                let board = try await transport.status(of: message.flowRunID)
                guard let board, board.state.isFinal || board.epoch > message.deliveries else { return .won(board) }
                if board.state.isFinal {
                    logger.info("discarded a flow run that has already ended", metadata: ["state": "\(board.state.rawValue)"])
                } else {
                    logger.info("discarded a copy of a flow run that has been taken again since",
                                metadata: ["epoch": "\(board.epoch)"])
                }
                counters.withLock { $0.discarded += 1 }
                delivery.settle(.ack)
                return .settled
            }
        } catch {
            logger.error("could not claim the flow run; handing it back", metadata: ["error": "\(error)"])
            delivery.settle(.requeue)
            return .settled
        }
        logger.warning("dropped a second copy of a flow run's message: its first copy runs",
                       metadata: ["epoch": "\(message.deliveries)"])
        counters.withLock { $0.discarded += 1 }
        delivery.settle(.ack)
        return .settled
    }

    /// A message this agent does not run as a new take, read against its run's board: a run that
    /// has ended is discarded; a redelivered one (its agent died or lost the broker) is re-counted;
    /// one of a flow this agent does not have ends Failed and is dead-lettered.
    private func settleWithoutRunning(_ delivery: FlowRunDelivery, _ message: FlowRunMessage, logger: Logger) async {
        let board: FlowRunStatus?
        do {
            board = try await transport.status(of: message.flowRunID)
        } catch {
            logger.error("could not read the flow run's status; handing it back", metadata: ["error": "\(error)"])
            delivery.settle(.requeue)
            return
        }
        let status = board ?? FlowRunStatus.pending(message)
        if status.state.isFinal {
            logger.info("discarded a flow run that has already ended", metadata: ["state": "\(status.state.rawValue)"])
            counters.withLock { $0.discarded += 1 }
            delivery.settle(.ack)
            return
        }
        if delivery.redelivered {
            await recount(delivery, message, status: status, logger: logger)
            return
        }
        let error = RemoteError(type: "UnknownFlow", message: "agent \(configuration.id) serving work queue "
            + "'\(message.workQueue)' has no flow named '\(message.flowName)' (it has: "
            + "\(client.registry.flowNames.joined(separator: ", "))); register it in the agent's registry",
            retryable: false)
        logger.error("dead-lettered a flow run of a flow this agent does not have", metadata: ["error": "\(error)"])
        try? await transport.publish(status: status.next(.failed, agentID: configuration.id, error: error))
        delivery.settle(.deadLetter(reason: error.message))
        counters.withLock { $0.failed += 1 }
    }

    /// A run handed to an agent before, with no outcome (its agent died or lost the broker): past
    /// the limit it ends Crashed and is dead-lettered; otherwise a copy with the count raised goes
    /// back on its work queue (so the count survives the next death) and runs again from there.
    private func recount(_ delivery: FlowRunDelivery, _ message: FlowRunMessage, status: FlowRunStatus,
                         logger: Logger) async {
        if message.deliveries >= configuration.maxDeliveries {
            let reason = "flow run \(message.flowRunID) of '\(message.flowName)' was handed to agents "
                + "\(message.deliveries) times without an outcome; it may crash the agent process that runs it"
            logger.error("dead-lettered a flow run that keeps losing its agent", metadata: [
                "deliveries": "\(message.deliveries)",
            ])
            try? await transport.publish(status: status.next(.crashed, agentID: configuration.id, error: RemoteError(
                type: "AgentCrashed", message: reason, retryable: false)))
            counters.withLock { $0.failed += 1 }
            delivery.settle(.deadLetter(reason: reason))
            return
        }
        var copy = message
        copy.deliveries += 1
        do {
            try await transport.publish(flowRun: copy)
            delivery.settle(.ack)
        } catch {
            delivery.settle(.requeue)
        }
    }
}
