import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Takes tasks from one or more queues and runs the registered task functions concurrently.
///
/// A task is acknowledged only after its result is published and confirmed. On graceful shutdown
/// (SIGTERM/SIGINT under a `ServiceGroup`) the worker stops taking work, hands back what it
/// prefetched but has not started, finishes what it runs, then returns. When a flow run is
/// cancelled (a control message), the worker discards that run's tasks it is handed and cancels
/// the ones it runs; both are reported `cancelled`.
public final class Worker: Service {
    public struct Configuration: Sendable {
        /// Queues to take tasks from.
        public var queues: [String]
        /// How many tasks run at once.
        public var concurrency: Int
        /// How many unacknowledged tasks the broker may hand this worker; defaults to twice the concurrency.
        public var prefetch: Int?
        /// This worker's id in results and logs.
        public var id: String
        /// How many times one attempt may be handed to workers without an outcome (its worker died or
        /// lost its connection while running it) before it is dead-lettered and ends Crashed.
        public var maxDeliveries: Int
        /// Drain and stop once this many timed-out tasks are still running (they ignored
        /// cancellation and hold threads), so a supervisor can start a fresh process. nil: never.
        public var recycleAfterStuck: Int?
        /// The largest result, in bytes of JSON, a task may send back; a larger one fails the attempt.
        public var maxPayloadBytes: Int
        /// At most N tasks from a queue run at once in this worker (`["db": 2]`), within `concurrency`.
        public var queueLimits: [String: Int]

        public init(queues: [String] = ["default"], concurrency: Int = 4, prefetch: Int? = nil,
                    id: String = Worker.defaultID(), maxDeliveries: Int = 5, recycleAfterStuck: Int? = nil,
                    maxPayloadBytes: Int = Tributary.defaultMaxPayloadBytes, queueLimits: [String: Int] = [:]) {
            self.queueLimits = queueLimits
            self.recycleAfterStuck = recycleAfterStuck
            self.maxPayloadBytes = maxPayloadBytes
            self.queues = queues
            self.concurrency = concurrency
            self.prefetch = prefetch
            self.id = id
            self.maxDeliveries = maxDeliveries
        }
    }

    /// What its heartbeat reports: tasks it runs now, and those it finished since it started.
    public var activity: Activity {
        let c = counters.withLock { $0 }
        return Activity(running: processing.load(ordering: .relaxed), completed: c.completed,
                        failed: c.failed + c.rejected, durations: c.durations,
                        flowRuns: cancellations.runningFlowRuns)
    }

    /// `host-pid`.
    public static func defaultID() -> String {
        "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// What the worker did with the tasks it was handed, for its closing log line.
    private struct Counters {
        var completed = 0, failed = 0, rejected = 0, requeued = 0, cancelled = 0, discarded = 0
        /// How long the attempts it ran to an outcome took.
        var durations = AttemptDurations()
    }

    private let broker: any Broker
    private let registry: Registry
    private let configuration: Configuration
    private let logger: Logger
    private let draining = Atomic<Bool>(false)
    private let interrupted = Atomic<Bool>(false)
    private let consumers = Mutex<[any TaskConsumer]>([])
    private let counters = ThreadLock(Counters())
    private let cancellations = FlowRunCancellations()
    private let unsettled = InFlight()
    private let held = HeldTasks()
    private let stuckTasks = Atomic<Int>(0)
    /// Deliveries it is acting on now (running, or about to).
    private let processing = Atomic<Int>(0)
    /// The threads task bodies run on: `concurrency` of them, plus one for each stuck task.
    private let taskThreads: TaskThreadPool
    /// Hands deliveries to the task threads while ``run()`` runs.
    private let dispatch = Mutex<DeliveryDispatch?>(nil)

    public init(broker: any Broker, registry: Registry, configuration: Configuration = .init(),
                logger: Logger = Logger(label: "tributary.worker")) {
        self.broker = broker
        self.registry = registry
        self.configuration = configuration
        self.taskThreads = TaskThreadPool(threads: configuration.concurrency, name: "trib-task")
        var logger = logger
        logger[metadataKey: "worker"] = "\(configuration.id)"
        self.logger = logger
    }

    public func run() async throws {
        let queues = configuration.queues
        let dispatch = DeliveryDispatch(concurrency: configuration.concurrency,
                                        limits: queues.map { configuration.queueLimits[$0] },
                                        executor: taskThreads) { [self] in await process($0) }
        self.dispatch.withLock { $0 = dispatch }
        // Heard before any task arrives, so no cancellation sent meanwhile is missed.
        let control = try await broker.subscribeControl { [weak self] in self?.hear($0) }
        do {
            try await startConsumers(dispatch)
        } catch {
            // The consumers already started take nothing more; what they brought goes back.
            stopTaking()
            await dispatch.finished(ignoringConsumers: true)
            await release(control)
            throw error
        }
        // Asked to drain while it was starting: the consumers started since then stop too.
        if draining.load(ordering: .relaxed) { stopTaking() }
        logger.info("worker ready", metadata: [
            "queues": "\(queues.joined(separator: ","))", "concurrency": "\(configuration.concurrency)",
            "tasks": "\(registry.taskNames.joined(separator: ","))",
        ])
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await dispatch.finished()
            } onGracefulShutdown: {
                self.beginDrain()
            }
        } onCancel: {
            self.interrupt()
        }
        await release(control)
        let c = counters.withLock { $0 }
        logger.info("worker stopped", metadata: [
            "completed": "\(c.completed)", "failed": "\(c.failed)", "rejected": "\(c.rejected)",
            "handed-back": "\(c.requeued)", "cancelled": "\(c.cancelled)", "discarded": "\(c.discarded)",
        ])
    }

    /// One consumer per queue, each handing its deliveries to `dispatch`.
    private func startConsumers(_ dispatch: DeliveryDispatch) async throws {
        for (index, queue) in configuration.queues.enumerated() {
            var prefetch = configuration.prefetch ?? configuration.concurrency * 2
            if let limit = configuration.queueLimits[queue] { prefetch = min(prefetch, limit * 2) }
            let consumer = try await broker.consumeTasks(from: queue, prefetch: prefetch, onDelivery: { [self] in
                arrive($0, from: index, dispatch)
            }, onEnd: {
                dispatch.consumerEnded()
            }, onLost: { [weak self] in
                self?.deliveriesLost($0)
            })
            consumers.withLock { $0.append(consumer) }
        }
    }

    /// Once the results still unconfirmed are settled, lets the task threads and the control
    /// queue go.
    private func release(_ control: ControlSubscription) async {
        await unsettled.drained()
        taskThreads.shutdown()
        await control.close()
    }

    /// A control message: a cancelled flow run's (or flow-run attempt's) running tasks are
    /// cancelled, and its tasks handed to this worker later are discarded.
    private func hear(_ message: ControlMessage) {
        let running: Int
        switch message.kind {
        case .cancelFlowRun: running = cancellations.cancel(flowRun: message.flowRunID, reason: message.detail)
        case .cancelFlowAttempt: running = cancellations.cancel(attempt: message.flowRunID, reason: message.detail)
        case .flowRunCancelled: return
        case .fenceFlowRun:
            guard let epoch = message.epoch else { return }
            cancellations.fence(flowRunID: message.flowRunID, epoch: epoch)
            logger.info("flow run resumed by another agent: its older tasks are dropped", metadata: [
                "flow-run": "\(message.flowRunID)", "epoch": "\(epoch)",
            ])
            return
        case .discardTaskAttempt:
            guard let taskRunID = message.taskRunID, let attempt = message.attempt else { return }
            let running = cancellations.discard(taskRunID: taskRunID, attempt: attempt, flowRunID: message.flowRunID,
                                                reason: message.detail)
            logger.info("task attempt discarded: it must not run again", metadata: [
                "task-run": "\(taskRunID)", "attempt": "\(attempt)", "running": "\(running)", "reason": "\(message.detail)",
            ])
            return
        }
        logger.info("flow run cancelled: discarding its tasks", metadata: [
            "flow-run": "\(message.flowRunID)", "running": "\(running)", "reason": "\(message.detail)",
        ])
    }

    /// Stops taking new work: consumers are cancelled; prefetched tasks go back to the queue.
    public func beginDrain() {
        guard !draining.exchange(true, ordering: .relaxed) else { return }
        logger.info("draining: no new tasks; finishing the ones running")
        stopTaking()
    }

    /// Hands back what waits for a slot and stops the consumers started so far.
    private func stopTaking() {
        for delivery in dispatch.withLock({ $0 })?.drain() ?? [] { handBack(delivery) }
        let toStop = consumers.withLock { $0 }
        Task { for consumer in toStop { await consumer.stop() } }
    }

    /// Stops at once (``run()`` was cancelled): drains, and the running tasks are cancelled and
    /// handed back to their queues, without waiting for their bodies.
    private func interrupt() {
        interrupted.store(true, ordering: .sequentiallyConsistent)
        beginDrain()
        // A body that ignores cancellation keeps its thread: its task's last steps get another.
        for _ in 0..<held.interruptAll() { taskThreads.addThread() }
    }

    /// A delivery from consumer `index`, on the transport's thread: a redelivered attempt waits
    /// out its grace without taking a slot; the others run once a slot of the worker (and of the
    /// queue's own limit, if it has one) is free.
    private func arrive(_ delivery: TaskDelivery, from index: Int, _ dispatch: DeliveryDispatch) {
        // Prefetched before the broker took its deliveries back: it goes to a worker again.
        guard delivery.isHeld else { return }
        if delivery.redelivered, case .success(let message) = delivery.content, !draining.load(ordering: .relaxed) {
            dispatch.runAside { await self.recountAfterGrace(delivery, message) }
            return
        }
        if !dispatch.submit(delivery, from: index) { handBack(delivery) }
    }

    private func handBack(_ delivery: TaskDelivery) {
        counters.withLock { $0.requeued += 1 }
        delivery.settle(.requeue)
    }

    private func process(_ delivery: TaskDelivery) async {
        // Waited here so long that it went back to its queue for another worker.
        guard delivery.claim() else { return }
        processing.add(1, ordering: .relaxed)
        defer { processing.subtract(1, ordering: .relaxed) }
        let message: TaskMessage
        switch delivery.content {
        case .failure(let malformed):
            await reject(delivery, reason: "malformed task message: \(malformed.reason)", replyTo: malformed.replyTo,
                         taskRunID: malformed.taskRunID, attempt: malformed.attempt)
            return
        case .success(let decoded):
            message = decoded
        }
        // A message whose count is already past the limit (a copy re-queued by `recount`, or a
        // producer's own) is dead-lettered by the same path, without running.
        if message.deliveries > configuration.maxDeliveries {
            recount(delivery, message)
            return
        }
        guard let task = registry.task(named: message.taskName) else {
            let known = registry.taskNames.joined(separator: ", ")
            await reject(delivery, reason: "worker \(configuration.id) has no task named '\(message.taskName)' "
                            + "(it has: \(known.isEmpty ? "none" : known)); register it in the worker's Registry",
                         replyTo: message.replyTo, taskRunID: message.taskRunID, attempt: message.attempt)
            return
        }
        let execution = TaskExecution(timeout: message.timeout, executor: taskThreads) { [self] change in
            stuckChanged(by: change)
        }
        switch cancellations.register(execution, for: message) {
        case nil:
            break
        case .attemptDiscarded?:
            discardSilently(delivery, message)
            return
        case .flowCancelled?:
            counters.withLock { $0.discarded += 1 }
            logger.debug("discarded a task of a cancelled flow run", metadata: [
                "task-run": "\(message.taskRunID)", "flow-run": "\(message.flowRunID)",
            ])
            settle(delivery, after: result(for: message, .cancelled, error: RemoteError(
                type: "FlowCancelled", message: cancellations.reason(forFlowRun: message.flowRunID)
                    ?? "not run: flow run \(message.flowRunID) was cancelled or timed out",
                retryable: false)), to: message.replyTo)
            return
        }
        defer { cancellations.unregister(execution, flowRunID: message.flowRunID) }
        held.insert(execution, delivery: delivery, message: message)
        // Inserted after `interrupt()` went through the held tasks.
        if interrupted.load(ordering: .sequentiallyConsistent) { execution.interrupt() }
        // Taken back before it was recorded, so `deliveriesLost` could not see it.
        guard delivery.isHeld else {
            _ = held.remove(execution)
            return
        }
        logger.debug("task attempt started", metadata: [
            "task-run": "\(message.taskRunID)", "flow-run": "\(message.flowRunID)", "attempt": "\(message.attempt)",
        ])
        if message.reportRunning {
            broker.publish(result: result(for: message, .running, body: []), to: message.replyTo) { _ in }
        }
        let context = TaskContext(taskName: message.taskName, taskRunID: message.taskRunID,
                                  flowRunID: message.flowRunID, attempt: message.attempt,
                                  workerID: configuration.id, deliveries: message.deliveries, baseLogger: logger)
        let input = message.input
        let started = ContinuousClock.now, startedAt = Date().timeIntervalSince1970
        let outcome = await execution.run { try await task.run(input, context) }
        // The broker took the delivery back (see `deliveriesLost`): another worker has the task.
        guard !held.remove(execution) else { return }
        let seconds = started.duration(to: .now).timeInterval
        var report: ResultMessage
        switch outcome {
        case .completed(let output) where output.count > configuration.maxPayloadBytes:
            count(\.failed, took: seconds)
            report = result(for: message, .failed, error: RemoteError(
                type: "OversizedResult",
                message: "the result of '\(message.taskName)' is \(output.count) bytes of JSON, over the worker's limit "
                    + "of \(configuration.maxPayloadBytes); return a reference (a path or URL) to large data",
                retryable: false))
        case .completed(let output):
            count(\.completed, took: seconds)
            report = result(for: message, .completed, body: output)
        case .failed(let error as UndecodableInput):
            count(nil, took: seconds)
            await reject(delivery, reason: error.description, replyTo: message.replyTo,
                         taskRunID: message.taskRunID, attempt: message.attempt)
            return
        case .failed(let error):
            count(\.failed, took: seconds)
            context.logger.info("task attempt failed", metadata: ["error": "\(error)"])
            report = result(for: message, .failed, error: Self.remoteError(error))
        case .timedOut:
            count(\.failed, took: seconds)
            let timeout = message.timeout.map { "\($0)" } ?? "?"
            context.logger.warning("task attempt timed out", metadata: ["timeout": "\(timeout)"])
            report = result(for: message, .timedOut, error: RemoteError(
                type: "TaskTimeout", message: "task '\(message.taskName)' did not finish within \(timeout)"))
        case .interrupted:
            handBack(delivery)
            return
        case .cancelled where cancellations.refusal(of: message) == .attemptDiscarded:
            discardSilently(delivery, message)
            return
        case .cancelled:
            count(\.cancelled, took: seconds)
            context.logger.info("task attempt cancelled: its flow run was cancelled")
            report = result(for: message, .cancelled, error: RemoteError(
                type: "FlowCancelled", message: cancellations.reason(forFlowRun: message.flowRunID)
                    ?? "cancelled while running: flow run \(message.flowRunID) was cancelled",
                retryable: false))
        }
        report.logs = context.logBuffer.records
        report.artifacts = context.artifacts.artifacts
        report.startedAt = startedAt
        settle(delivery, after: report, to: message.replyTo)
    }

    /// Counts an attempt that reached an outcome: `outcome`'s counter (if this counts it) and how
    /// long it took, under one lock, since every task thread takes it.
    private func count(_ outcome: WritableKeyPath<Counters, Int>?, took seconds: Double) {
        counters.withLock { counters in
            if let outcome { counters[keyPath: outcome] += 1 }
            counters.durations.observe(seconds)
        }
    }

    /// Publishes the report, then acknowledges the delivery once the broker holds it (at least
    /// once, never lost), or hands it back if the broker would not take the report.
    private func settle(_ delivery: TaskDelivery, after report: ResultMessage, to replyTo: String) {
        unsettled.enter()
        broker.publish(result: report, to: replyTo) { [unsettled, logger] error in
            if let error {
                logger.error("could not publish a result; the task goes back to the queue", metadata: [
                    "task-run": "\(report.taskRunID)", "error": "\(error)",
                ])
                delivery.settle(.requeue)
            } else {
                delivery.settle(.ack)
            }
            unsettled.leave()
        }
    }

    /// A copy of an attempt that another worker reported (it ran past the broker's delivery
    /// timeout there): acknowledged, so it runs nowhere again, and not reported.
    private func discardSilently(_ delivery: TaskDelivery, _ message: TaskMessage) {
        counters.withLock { $0.discarded += 1 }
        logger.info("discarded a copy of a task attempt that must not run again", metadata: [
            "task-run": "\(message.taskRunID)", "attempt": "\(message.attempt)",
        ])
        delivery.settle(.ack)
    }

    /// The broker closed the channel, so every delivery this worker held went back to its queue and
    /// to workers again: the tasks running for them are cancelled rather than finished twice. A task
    /// that held its delivery past the broker's acknowledgement timeout would only be taken back
    /// again: it is reported crashed, with the setting to change, and every worker drops its copies.
    private func deliveriesLost(_ loss: DeliveriesLost) {
        let lost = held.loseUnheld(deliveryTimeout: loss.deliveryTimeout)
        guard let timeout = loss.deliveryTimeout else {
            logger.warning("""
                the broker closed the channel and took back this worker's tasks; the running ones are cancelled, \
                since other workers get them again
                """, metadata: [
                                "cancelled": "\(lost.count)", "reason": "\(loss.reason)",
                            ])
            return
        }
        let setting = Self.consumerTimeoutAdvice(timeout)
        logger.error("""
            the broker took back this worker's tasks: a delivery stayed unacknowledged past the broker's \
            consumer_timeout; \(setting)
            """, metadata: [
                            "cancelled": "\(lost.count)", "past-timeout": "\(lost.filter(\.pastTimeout).count)",
                            "reason": "\(loss.reason)",
                        ])
        for task in lost where task.pastTimeout {
            let message = task.message
            let reason = "task '\(message.taskName)' attempt \(message.attempt) held its delivery for "
                + "\(Self.seconds(task.held)), past the broker's delivery acknowledgement timeout; the broker took the "
                + "task back and it was stopped, so it does not run twice. To fix: \(setting)"
            cancellations.discard(taskRunID: message.taskRunID, attempt: message.attempt, flowRunID: message.flowRunID,
                                  reason: reason)
            broker.publish(control: .discardTaskAttempt(of: message, reason: reason), to: nil) { _ in }
            counters.withLock { $0.failed += 1 }
            broker.publish(result: result(for: message, .crashed, error: RemoteError(
                type: "DeliveryTimedOut", message: reason, retryable: false)), to: message.replyTo) { _ in }
        }
    }

    /// What to tell the operator about RabbitMQ's `consumer_timeout`.
    static func consumerTimeoutAdvice(_ timeout: Duration) -> String {
        let used = timeout == .zero ? "" : " (it is \(timeout.wholeMilliseconds) ms)"
        return "keep TRIB_RENEW_HELD_AFTER (seconds after which a worker renews a delivery it holds; 600 by default) "
            + "below the broker's consumer_timeout\(used), and do not set it to off; or set consumer_timeout in "
            + "rabbitmq.conf, in milliseconds, above the longest time a task is held by a worker, queue wait included: "
            + "for example consumer_timeout = 86400000 for 24 hours (deploy/rabbitmq.sh sets this)"
    }

    private static func seconds(_ duration: Duration) -> String {
        let (seconds, atto) = duration.components
        return String(format: "%.1f s", Double(seconds) + Double(atto) / 1e18)
    }

    /// Counts tasks abandoned at their timeout that still hold a thread, and gives the pool a
    /// thread for each, so the worker still runs `concurrency` tasks at once; past the limit, recycles.
    private func stuckChanged(by change: Int) {
        let stuck = stuckTasks.add(change, ordering: .relaxed).newValue
        guard change > 0 else {
            taskThreads.removeThread()
            return
        }
        taskThreads.addThread()
        logger.warning("a timed-out task ignored cancellation and still holds a thread", metadata: ["stuck": "\(stuck)"])
        if let limit = configuration.recycleAfterStuck, stuck >= limit {
            logger.error("recycling: \(stuck) timed-out tasks still hold threads; draining so a fresh process can take over")
            beginDrain()
        }
    }

    /// How long a redelivered attempt waits before it is counted and queued again: time for a
    /// `discard-task-attempt` from the worker that lost it to arrive first (it is sent as the
    /// broker hands the attempt out again).
    static let redeliveryGrace = Duration.seconds(1)

    /// A redelivered attempt, after ``redeliveryGrace`` and without taking a slot: dropped if it was
    /// discarded meanwhile, otherwise recounted.
    private func recountAfterGrace(_ delivery: TaskDelivery, _ message: TaskMessage) async {
        try? await Task.sleep(for: Self.redeliveryGrace)
        guard delivery.isHeld, delivery.claim() else { return }
        if cancellations.refusal(of: message) == .attemptDiscarded {
            discardSilently(delivery, message)
        } else {
            recount(delivery, message)
        }
    }

    /// A redelivered attempt was handed to a worker before and got no outcome: past the limit it is
    /// dead-lettered and reported crashed; otherwise a copy with the count raised goes back on the
    /// queue (so the count survives the next crash) and this delivery is acknowledged.
    private func recount(_ delivery: TaskDelivery, _ message: TaskMessage) {
        let deliveries = message.deliveries + 1
        if deliveries > configuration.maxDeliveries {
            let reason = "task '\(message.taskName)' attempt \(message.attempt) was handed to workers "
                + "\(message.deliveries) times without an outcome; it may crash the worker process that runs it"
            counters.withLock { $0.rejected += 1 }
            logger.error("dead-lettered a task that keeps losing its worker", metadata: [
                "task-run": "\(message.taskRunID)", "deliveries": "\(message.deliveries)",
            ])
            let report = result(for: message, .crashed, error: RemoteError(type: "WorkerCrashed", message: reason,
                                                                           retryable: false))
            broker.publish(result: report, to: message.replyTo) { _ in }
            delivery.settle(.deadLetter(reason: reason))
            return
        }
        var copy = message
        copy.deliveries = deliveries
        unsettled.enter()
        broker.publish(task: copy) { [unsettled] error in
            delivery.settle(error == nil ? .ack : .requeue)
            unsettled.leave()
        }
    }

    private func reject(_ delivery: TaskDelivery, reason: String, replyTo: String?, taskRunID: String?,
                        attempt: Int) async {
        counters.withLock { $0.rejected += 1 }
        logger.error("rejected a task message", metadata: ["reason": "\(reason)"])
        if let replyTo, let taskRunID {
            let rejection = ResultMessage.rejection(taskRunID: taskRunID, attempt: attempt, workerID: configuration.id,
                                                    reason: reason)
            broker.publish(result: rejection, to: replyTo) { _ in }
        }
        delivery.settle(.deadLetter(reason: reason))
    }

    private func result(for message: TaskMessage, _ status: ResultStatus, body: [UInt8]) -> ResultMessage {
        ResultMessage(taskRunID: message.taskRunID, attempt: message.attempt, status: status,
                      workerID: configuration.id, body: body)
    }

    private func result(for message: TaskMessage, _ status: ResultStatus, error: RemoteError) -> ResultMessage {
        result(for: message, status, body: (try? WireJSON.encode(error)) ?? [])
    }

    static func remoteError(_ error: any Error) -> RemoteError {
        let message = (error as? LocalizedError)?.errorDescription ?? String(describing: error)
        return RemoteError(type: String(describing: type(of: error)), message: message,
                           retryable: !(error is any NonRetryableError))
    }
}
