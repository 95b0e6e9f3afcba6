import AMQPClient
import Foundation
import Logging
import Synchronization

/// Runs the task side of one flow run: publishes one message per attempt, resolves runs from the
/// reply queue by task-run id, retries failed attempts (the only place retries happen), keeps
/// deadlines, and ignores results for runs or attempts that have already ended.
final class Coordinator: Sendable {
    let broker: any Broker
    let flowRunID: String
    /// The queue results come back on: `trib.reply.<flow-run id>`.
    let replyQueueName: String
    private let replyQueue = Mutex<ReplyQueue?>(nil)
    let logger: Logger
    /// The flow run this one is a subflow of.
    let parentFlowRunID: String?
    /// Shared with the client and with subflows.
    let environment: FlowEnvironment
    private var observer: (@Sendable (TaskEvent) -> Void)? { environment.observer }
    private var statistics: StatisticsCounters { environment.statistics }
    private var resultStore: any ResultStore { environment.resultStore }
    /// Task-run ids are this prefix and a counter: the flow-run id, plus the attempt after a retry
    /// of the whole flow, so a late result of an earlier attempt never matches a run of this one.
    private let runIDPrefix: String
    /// Tag limits: this flow run's, then the client's.
    private let limiters: [TagLimiter]
    /// Set once the flow run is cancelled or timed out: no new run is sent.
    private let closed = Atomic<Bool>(false)
    /// Hooks and result-store writes still running; the flow waits for them before it ends.
    private let background = Mutex<[UUID: Task<Void, Never>]>([:])
    /// Runs that ended Failed, Crashed or TimedOut, for the flow's final state.
    private let failedRuns = Mutex<[TaskRun]>([])
    private let runs = Mutex<[String: TaskRun]>([:])
    private let timers = Mutex<[String: Task<Void, Never>]>([:])
    private let pendingSubmissions = Mutex<[String: Task<Void, Never>]>([:])
    private let runCounter = Atomic<Int>(0)
    /// Task messages the broker has not confirmed yet; `send` waits while it is full, so a flow
    /// that submits faster than the broker takes them holds a bounded backlog.
    private let publishWindow: AsyncSemaphore
    /// The run's journal, when it is a submitted run an agent runs: results come from a durable
    /// queue that another agent reads back if this one dies.
    let journal: RunJournal?
    /// What this coordinator read back from its journal, and its call counts.
    private let replay: JournalReplay?

    /// The largest input a task may be sent with.
    var maxPayloadBytes: Int { environment.maxPayloadBytes }

    init(broker: any Broker, flowRunID: String, parentFlowRunID: String? = nil, attempt: Int = 1, logger: Logger,
         environment: FlowEnvironment, flowLimits: TagLimiter = TagLimiter(limits: [:]),
         publishWindow: Int = 1_000, journal: RunJournal? = nil) {
        self.broker = broker
        self.journal = journal
        self.replay = journal.map { _ in JournalReplay() }
        self.environment = environment
        self.limiters = [flowLimits, environment.clientLimits]
        self.publishWindow = AsyncSemaphore(permits: publishWindow)
        self.runIDPrefix = attempt == 1 ? flowRunID : "\(flowRunID).a\(attempt)"
        self.replyQueueName = "trib.reply.\(runIDPrefix)"
        self.flowRunID = flowRunID
        self.parentFlowRunID = parentFlowRunID
        self.logger = logger
    }

    /// The id of a new task run: the flow-run id and a sequence number, unique everywhere without
    /// a random number per task; in a journaled run, the flow-run id and the call's key, the same
    /// in every execution of the run.
    func taskRunID(taskName: String, input: [UInt8]) -> String {
        if let replay { return "\(runIDPrefix).\(replay.callKey(taskName: taskName, input: input))" }
        return "\(runIDPrefix).\(runCounter.add(1, ordering: .relaxed).newValue)"
    }

    /// The id of a subflow run started now: new, or in a journaled run the same in every execution.
    func subflowRunID(name: String) -> String? {
        replay?.subflowRunID(prefix: runIDPrefix, name: name)
    }

    /// Opens the reply queue (or the journal, reading back what it holds before the flow's code
    /// runs); results are handled as they arrive, on the transport's thread.
    func start() async throws {
        let statistics = self.statistics
        let onMalformed: @Sendable (MalformedTask) -> Void = { [weak self] problem in
            statistics.malformedReplies.add(1, ordering: .relaxed)
            self?.handleUnreadable(problem)
        }
        guard let journal, let replay else {
            let queue = try await broker.openReplyQueue(named: replyQueueName, onResult: { [weak self] in self?.handle($0) },
                                                        onMalformed: onMalformed)
            replyQueue.withLock { $0 = queue }
            return
        }
        let (queue, held) = try await broker.openJournal(named: replyQueueName, retention: journal.retention,
                                                         onResult: { [weak self] in self?.handle($0) },
                                                         onMalformed: onMalformed, onRead: { replay.counted() })
        journal.record(replyQueueName, on: broker)
        replyQueue.withLock { $0 = queue }
        if journal.epoch > 1 {
            // Workers drop what a coordinator that lost the run (cut off, not dead) may still send.
            announce(ControlMessage(kind: .fenceFlowRun, flowRunID: flowRunID, detail: "resumed by another agent",
                                    epoch: journal.epoch))
        }
        if held > 0 || journal.epoch > 1 {
            logger.info("resuming the flow run from its journal", metadata: ["messages": "\(held)"])
            await replay.waitForReplay(of: held)
        }
    }

    /// Registers a run and sends its first attempt once its dependencies have completed.
    func submit(_ run: TaskRun, waitFor dependencies: [any TaskDependency]) async {
        if closed.load(ordering: .relaxed) {
            run.finish(.cancelled(run.failure("Cancelled", RemoteError(
                type: "FlowCancelled", message: "not run: the flow run was cancelled", retryable: false), attempts: 0)))
            return
        }
        runs.withLock { $0[run.id] = run }
        emit(run, .pending, waitFor: dependencies.map(\.taskRunID))
        var firstAttempt = 1
        if let past = replay?.take(run.id) {
            guard let attempt = resume(run, from: past) else { return }
            firstAttempt = attempt
        }
        let graceEnd = firstAttempt == 1 ? replay?.takeoverGraceEnd : nil
        // A run that may wait for a tag's slot waits in a task of its own, so submit returns at once.
        if dependencies.isEmpty, graceEnd == nil, !limiters.contains(where: { $0.limits(run.options.tags) }),
           !environment.rateLimiter.limits(run.options.tags) {
            if await reuseCachedResult(run) { return }
            await send(run, attempt: firstAttempt)
            return
        }
        let task = Task {
            if let graceEnd {
                // Just taken over: the result of this call may still be on its way to the journal.
                try? await Task.sleep(until: graceEnd)
                if let past = self.replay?.take(run.id) {
                    guard let attempt = self.resume(run, from: past) else { return }
                    firstAttempt = attempt
                }
            }
            for dependency in dependencies {
                let final = await dependency.finalState()
                guard final.isCompleted || dependency.allowsFailure else {
                    self.end(run, .cancelled(run.failure("Cancelled", RemoteError(
                        type: "UpstreamFailed",
                        message: "not run: task '\(dependency.taskName)' (run \(dependency.taskRunID)) "
                            + "that it waits for ended \(final.name)", retryable: false), attempts: 0)))
                    return
                }
            }
            if await self.reuseCachedResult(run) { return }
            await self.send(run, attempt: firstAttempt)
        }
        pendingSubmissions.withLock { $0[run.id] = task }
    }

    /// A call made before the run was taken over, whose results its journal holds: ends the run as
    /// they say (its hooks ran then, not again), or returns the attempt to send: the retry after
    /// the last failed one, or the attempt in flight, sent again.
    private func resume(_ run: TaskRun, from past: [ResultMessage]) -> Int? {
        let byAttempt = past.sorted { $0.attempt < $1.attempt }
        if let done = byAttempt.last(where: { $0.status == .completed }) {
            _ = run.begin(attempt: done.attempt)
            end(run, .completed, output: done.body, replayed: true)
            return nil
        }
        guard let last = byAttempt.last(where: { $0.status != .running }) else { return byAttempt.last?.attempt ?? 1 }
        _ = run.begin(attempt: last.attempt)
        let error = remoteError(in: last)
        switch last.status {
        case .failed, .timedOut:
            if last.attempt <= run.options.retries, error.retryable, run.options.retryCondition?(error) ?? true {
                return last.attempt + 1
            }
            let failure = run.failure(last.status == .timedOut ? "TimedOut" : "Failed", error, attempts: last.attempt)
            end(run, last.status == .timedOut ? .timedOut(failure) : .failed(failure), replayed: true)
        case .crashed:
            end(run, .crashed(run.failure("Crashed", error)), replayed: true)
        case .cancelled:
            end(run, .cancelled(run.failure("Cancelled", error)), replayed: true)
        case .rejected, .running, .completed, .returned:
            end(run, .failed(run.failure("Failed", error)), replayed: true)
        }
        return nil
    }

    /// Ends the run Cached if its cache policy finds a valid stored result. A store that cannot
    /// be read is logged and the run goes ahead: a cache never stops work.
    private func reuseCachedResult(_ run: TaskRun) async -> Bool {
        guard let policy = run.options.cache else { return false }
        let key = policy.storeKey(taskName: run.taskName, input: run.input)
        do {
            guard let stored = try await resultStore.read(key: key), stored.isValid() else { return false }
            end(run, .cached, output: stored.output)
            return true
        } catch {
            logger.warning("could not read the result store; running the task", metadata: [
                "task-run": "\(run.id)", "error": "\(error)",
            ])
            return false
        }
    }

    private func storeResult(of run: TaskRun, output: [UInt8]) {
        guard let policy = run.options.cache else { return }
        let key = policy.storeKey(taskName: run.taskName, input: run.input)
        let now = Date()
        let stored = StoredResult(taskName: run.taskName, output: output, storedAt: now,
                                  expiresAt: policy.expiration.map { now.addingTimeInterval($0.timeInterval) })
        inBackground { [resultStore, logger] in
            do {
                try await resultStore.write(stored, key: key)
            } catch {
                logger.warning("could not store a result for caching", metadata: [
                    "task-run": "\(run.id)", "error": "\(error)",
                ])
            }
        }
    }

    private func runHooks(_ hooks: [TaskHook], _ run: TaskRun, _ state: TaskState, error: RemoteError?) {
        guard !hooks.isEmpty else { return }
        let info = TaskRunInfo(taskName: run.taskName, taskRunID: run.id, runName: run.name, flowRunID: flowRunID,
                               attempt: run.attempt,
                               state: state, error: error)
        inBackground { [logger] in
            for hook in hooks {
                do {
                    try await hook.body(info)
                } catch {
                    logger.error("a task hook failed", metadata: ["task-run": "\(info.taskRunID)", "error": "\(error)"])
                }
            }
        }
    }

    /// Runs `work` as part of this flow run: the flow does not end before it has.
    private func inBackground(_ work: @escaping @Sendable () async -> Void) {
        let id = UUID()
        let task = Task {
            await work()
            _ = self.background.withLock { $0.removeValue(forKey: id) }
        }
        background.withLock { $0[id] = task }
    }

    /// The runs that ended Failed, Crashed or TimedOut and whose outcome the flow never looked at.
    var unhandledFailures: [TaskFailure] {
        failedRuns.withLock { $0 }.filter { !$0.wasObserved }.compactMap { $0.currentState.failure }
    }

    private func send(_ run: TaskRun, attempt: Int) async {
        do {
            try await broker.prepareTaskQueue(run.options.queue)
        } catch {
            end(run, .crashed(run.failure("Crashed", RemoteError(
                type: "BrokerError", message: "could not declare queue '\(run.options.queue)': \(error)",
                retryable: false), attempts: attempt)))
            return
        }
        for limiter in limiters { await limiter.acquire(runID: run.id, tags: run.options.tags) }
        await environment.rateLimiter.acquire(runID: run.id, tags: run.options.tags)
        guard run.begin(attempt: attempt) else {
            releaseSlots(of: run)
            return
        }
        let message = taskMessage(for: run, attempt: attempt)
        await publishWindow.wait()
        // Before the publish: a worker's report can arrive before the broker's confirm.
        environment.queueWatch.sent(run.id, to: run.options.queue, via: broker)
        publish(message, of: run, queued: run.options.packing ? environment.queueWatch.waiting(on: run.options.queue) : 0)
    }

    /// The message of `run`'s attempt `attempt`.
    private func taskMessage(for run: TaskRun, attempt: Int) -> TaskMessage {
        var message = TaskMessage(taskRunID: run.id, flowRunID: flowRunID, taskName: run.taskName,
                                  queue: run.options.queue, attempt: attempt, timeout: run.options.timeout,
                                  replyTo: replyQueueName, persistent: run.options.persistent,
                                  reportRunning: run.options.timeout != nil || observer != nil
                                      || environment.rateLimiter.limits(run.options.tags),
                                  input: run.input)
        message.epoch = journal?.epoch
        return message
    }

    /// An attempt came back unrun from a pack (see ``ResultStatus/returned``): if this flow still
    /// waits for it, it goes again alone, once, with the delivery count the worker gave (raised
    /// when its pack's worker was lost), so a task that crashes its worker is isolated from its
    /// neighbours. One sent by an earlier take of a submitted run is left to the fence.
    private func sendAgain(_ returned: ResultMessage) {
        guard returned.epoch == journal?.epoch, let run = runs.withLock({ $0[returned.taskRunID] }),
              run.takeReturn(of: returned.attempt) else { return }
        statistics.tasksReturnedFromPacks.add(1, ordering: .relaxed)
        logger.info("a pack holding this task was handed to a worker again; sending the task alone", metadata: [
            "task-run": "\(run.id)", "attempt": "\(returned.attempt)", "deliveries": "\(returned.deliveries)",
        ])
        var message = taskMessage(for: run, attempt: returned.attempt)
        message.deliveries = returned.deliveries
        inBackground { [message] in
            await self.publishWindow.wait()
            self.publish(message, of: run)
        }
    }

    /// Publishes a task message. In a submitted run, one the connection dropped as it broke is sent
    /// again only once the agent has checked the run is still its own (another agent may have
    /// resumed it meanwhile).
    private func publish(_ message: TaskMessage, of run: TaskRun, queued: Int = 0) {
        broker.publish(task: message, queued: queued) { [self] error in
            publishWindow.signal()
            guard let error else { return }
            if let journal, let kind = (error as? AMQPError)?.kind, kind == .connectionLost || kind == .channelClosedByBroker {
                inBackground {
                    guard await journal.checkOwnership() else { return }
                    await self.publishWindow.wait()
                    self.publish(message, of: run)
                }
                return
            }
            end(run, .crashed(run.failure("Crashed", RemoteError(
                type: "BrokerError", message: "the broker did not take the task message: \(error)",
                retryable: false), attempts: message.attempt)))
        }
    }

    private func releaseSlots(of run: TaskRun) {
        for limiter in limiters { limiter.release(runID: run.id) }
        environment.rateLimiter.settle(runID: run.id)
    }

    /// A reply that could not be read but names an attempt this flow waits for (a worker of another
    /// wire version answered it): no answer this process can read will come, so the attempt ends
    /// rejected with the reason instead of the flow waiting for ever.
    private func handleUnreadable(_ problem: MalformedTask) {
        guard problem.attempt >= 1, let id = problem.taskRunID,
              let run = runs.withLock({ $0[id] }), !run.currentState.isFinal, run.attempt == problem.attempt else { return }
        handle(.rejection(taskRunID: id, attempt: problem.attempt, workerID: "unknown", type: "UnreadableResult",
                          reason: problem.reason))
    }

    func handle(_ result: ResultMessage) {
        if result.status == .returned { return sendAgain(result) }
        let known = runs.withLock { $0[result.taskRunID] }
        if let replay, known.map({ $0.attempt == 0 && !$0.currentState.isFinal }) ?? true {
            // A call made before a takeover that this execution has not made (or sent) again yet.
            replay.keep(result)
            return
        }
        guard let run = known, !run.currentState.isFinal, run.attempt == result.attempt else {
            // A duplicate from redelivery, or a late report on an attempt that has already ended
            // (a worker's `cancelled` for a run this flow already ended Cancelled is expected).
            if result.status != .running, result.status != .cancelled {
                statistics.duplicateResults.add(1, ordering: .relaxed)
            }
            logger.debug("ignored a result for an ended run or attempt", metadata: [
                "task-run": "\(result.taskRunID)", "attempt": "\(result.attempt)", "status": "\(result.status.rawValue)",
            ])
            return
        }
        run.worker = result.workerID
        run.startedAt = result.startedAt
        shipLogs(of: result, for: run)
        for artifact in result.artifacts { record(artifact, of: run, attempt: result.attempt, worker: result.workerID) }
        environment.queueWatch.heard(run.id, on: run.options.queue)
        switch result.status {
        case .running:
            environment.rateLimiter.started(runID: run.id)
            guard run.transition(to: .running) else { return }
            emit(run, .running)
            if let timeout = run.options.timeout { armDeadline(run, attempt: result.attempt, after: timeout) }
        case .completed:
            end(run, .completed, output: result.body)
        case .failed, .timedOut:
            attemptFailed(run, attempt: result.attempt, error: remoteError(in: result), timedOut: result.status == .timedOut)
        case .rejected:
            end(run, .failed(run.failure("Failed", remoteError(in: result))))
        case .crashed:
            end(run, .crashed(run.failure("Crashed", remoteError(in: result))))
        case .returned:
            return
        case .cancelled:
            // A worker heard of this flow run's cancellation (`trib cancel`, another client) first.
            let error = remoteError(in: result)
            _ = environment.activeFlowRuns.cancel(flowRunID, reason: error.message)
            end(run, .cancelled(run.failure("Cancelled", error)))
        }
    }

    /// Sends an artifact of this flow run (`run` nil) or of one of its task runs on to the server.
    func record(_ artifact: PublishedArtifact, of run: TaskRun?, attempt: Int? = nil, worker: String? = nil) {
        guard let events = environment.events else { return }
        events.record(RunEvent(kind: .artifact, flowRunID: flowRunID, parentFlowRunID: parentFlowRunID,
                               taskRunID: run?.id, name: run?.taskName ?? "", runName: run?.name, attempt: attempt,
                               worker: worker, epoch: journal?.epoch ?? 1, sequence: events.nextSequence(),
                               time: artifact.at, artifact: artifact))
    }

    /// Writes what the task logged on its worker to the flow's log, in order, with the worker's id.
    private func shipLogs(of result: ResultMessage, for run: TaskRun) {
        guard !result.logs.isEmpty else { return }
        var taskLogger = logger
        taskLogger[metadataKey: "task"] = "\(run.taskName)"
        taskLogger[metadataKey: "task-run"] = "\(run.id)"
        if let name = run.name { taskLogger[metadataKey: "task-run-name"] = "\(name)" }
        taskLogger[metadataKey: "worker"] = "\(result.workerID)"
        taskLogger[metadataKey: "attempt"] = "\(result.attempt)"
        for record in result.logs {
            taskLogger.log(level: Logger.Level(rawValue: record.level) ?? .info, "\(record.message)")
        }
        guard let events = environment.events else { return }
        for record in result.logs {
            events.record(RunEvent(kind: .log, flowRunID: flowRunID, parentFlowRunID: parentFlowRunID,
                                   taskRunID: run.id, name: run.taskName, runName: run.name, attempt: result.attempt,
                                   worker: result.workerID, epoch: journal?.epoch ?? 1,
                                   sequence: events.nextSequence(), level: record.level, message: record.message))
        }
    }

    private func remoteError(in result: ResultMessage) -> RemoteError {
        (try? WireJSON.decode(RemoteError.self, from: result.body))
            ?? RemoteError(type: "UnreadableError",
                           message: "worker \(result.workerID) reported \(result.status.rawValue) with an unreadable body",
                           retryable: true)
    }

    /// Retries the run if it has retries left and the error allows it; otherwise ends it.
    private func attemptFailed(_ run: TaskRun, attempt: Int, error: RemoteError, timedOut: Bool) {
        run.recordOutcome(of: attempt)
        cancelTimer(run.id)
        releaseSlots(of: run)
        let retryAllowed = error.retryable && (run.options.retryCondition?(error) ?? true)
        if attempt <= run.options.retries && retryAllowed {
            guard run.transition(to: .retrying) else { return }
            emit(run, .retrying)
            runHooks(run.options.onRetry, run, .retrying, error: error)
            let delay = run.options.retryDelay.delay(beforeRetry: attempt)
            logger.info("task attempt failed; retrying", metadata: [
                "task": "\(run.taskName)", "task-run": "\(run.id)", "attempt": "\(attempt)",
                "delay": "\(delay)", "error": "\(error)",
            ])
            schedule(run.id, after: delay) { await self.send(run, attempt: attempt + 1) }
        } else {
            let name = timedOut ? "TimedOut" : "Failed"
            let failure = run.failure(name, error, attempts: attempt)
            end(run, timedOut ? .timedOut(failure) : .failed(failure))
        }
    }

    /// The coordinator's own deadline for a running attempt: the worker's timeout plus a grace, so
    /// a run whose worker hung or vanished still ends.
    private func armDeadline(_ run: TaskRun, attempt: Int, after timeout: Duration) {
        let grace = max(.seconds(2), timeout / 5)
        schedule(run.id, after: timeout + grace) {
            guard run.attempt == attempt, !run.currentState.isFinal else { return }
            self.attemptFailed(run, attempt: attempt, error: RemoteError(
                type: "DeadlineExceeded",
                message: "no result within the timeout of \(timeout) plus \(grace) grace; the worker may be lost"),
                timedOut: true)
        }
    }

    private func schedule(_ runID: String, after delay: Duration, _ action: @escaping @Sendable () async -> Void) {
        let task = Task {
            if delay > .zero {
                do { try await Task.sleep(for: delay) } catch { return }
            }
            await action()
        }
        timers.withLock { $0.updateValue(task, forKey: runID) }?.cancel()
    }

    private func cancelTimer(_ runID: String) {
        timers.withLock { $0.removeValue(forKey: runID) }?.cancel()
    }

    /// Ends a run, forgets it, and tells the observer. A run `replayed` from the journal ended
    /// before a takeover: its hooks ran then.
    func end(_ run: TaskRun, _ final: TaskState, output: [UInt8]? = nil, replayed: Bool = false) {
        cancelTimer(run.id)
        releaseSlots(of: run)
        guard run.finish(final, output: output, beforeWaking: {
            // Started before the flow can go on, so a flow that ends right after waits for it.
            if final == .completed, let output { storeResult(of: run, output: output) }
        }) else { return }
        environment.queueWatch.heard(run.id, on: run.options.queue)
        runs.withLock { _ = $0.removeValue(forKey: run.id) }
        pendingSubmissions.withLock { _ = $0.removeValue(forKey: run.id) }
        if let failure = final.failure {
            logger.warning("task run ended \(final.name)", metadata: [
                "task": "\(run.taskName)", "task-run": "\(run.id)", "task-run-name": "\(run.name ?? "")",
                "error": "\(failure.error)",
            ])
        }
        if final == .completed {
            if !replayed { runHooks(run.options.onCompletion, run, final, error: nil) }
        } else if final.isFailure {
            failedRuns.withLock { $0.append(run) }
            if !replayed { runHooks(run.options.onFailure, run, final, error: final.failure?.error) }
        }
        emit(run, final)
    }

    private func emit(_ run: TaskRun, _ state: TaskState, waitFor: [String] = []) {
        observer?(TaskEvent(flowRunID: flowRunID, parentFlowRunID: parentFlowRunID, taskRunID: run.id, taskName: run.taskName, runName: run.name,
                            attempt: run.attempt, state: state))
        guard let events = environment.events else { return }
        events.record(RunEvent(kind: .taskRun, flowRunID: flowRunID, parentFlowRunID: parentFlowRunID,
                               taskRunID: run.id, name: run.taskName, runName: run.name, state: state.name,
                               attempt: run.attempt, worker: run.worker, epoch: journal?.epoch ?? 1,
                               sequence: events.nextSequence(), error: state.failure.map { "\($0.error)" },
                               waitFor: waitFor.isEmpty ? nil : waitFor, startedAt: run.startedAt))
    }

    /// Waits until every run submitted so far has ended, and its hooks and result writes are done.
    /// (Waiting here does not count as the flow looking at a run's outcome.)
    func waitForOutstanding() async {
        while let next = runs.withLock({ $0.values.first }) {
            _ = await next.finished()
        }
        await waitForBackground()
    }

    /// Waits for hooks and result-store writes already started: a flow that fails still keeps
    /// the results it completed, so a re-run can resume.
    func waitForBackground() async {
        while let next = background.withLock({ $0.popFirst()?.value }) {
            await next.value
        }
    }

    /// Ends every run not yet ended Cancelled with `reason`, and sends no new ones: a flow that
    /// timed out stops waiting. (Messages already on a queue may still run on a worker; their
    /// results are ignored.)
    func cancelOutstanding(reason: String) {
        closed.store(true, ordering: .relaxed)
        pendingSubmissions.withLock { pending in
            pending.values.forEach { $0.cancel() }
            pending.removeAll()
        }
        let open = runs.withLock { Array($0.values) }
        for run in open {
            end(run, .cancelled(run.failure("Cancelled", RemoteError(type: "FlowCancelled", message: reason,
                                                                     retryable: false))))
        }
    }

    /// Tells every worker that this flow run was cancelled: they discard its queued tasks and
    /// cancel its running ones. (Not waited for: the connection sends it before anything later.)
    func announceCancellation(reason: String) {
        announce(.cancelFlowRun(flowRunID, reason: reason))
    }

    /// Tells every worker that this attempt of the flow run is over (it timed out): they discard
    /// its queued tasks and cancel its running ones; a later attempt's tasks are not touched.
    func announceAttemptCancellation(reason: String) {
        announce(ControlMessage(kind: .cancelFlowAttempt, flowRunID: runIDPrefix, detail: reason))
    }

    private func announce(_ message: ControlMessage) {
        broker.publish(control: message, to: nil) { [logger] error in
            if let error {
                logger.warning("could not tell workers that the flow run was cancelled", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Stops timers and the reply queue.
    func shutdown() async {
        let pending = timers.withLock { timers in
            defer { timers.removeAll() }
            return Array(timers.values)
        } + pendingSubmissions.withLock { Array($0.values) }
        pending.forEach { $0.cancel() }
        await replyQueue.withLock { $0.take() }?.close()
    }
}
