import Foundation
import Logging

/// One flow run from start to final state: attempts (retries of the whole body), each attempt's
/// coordinator and timeout, the final-state rule, the hooks, and the log lines.
struct FlowExecution: Sendable {
    let name: String
    let flowRunID: String
    let parentFlowRunID: String?
    let options: FlowOptions
    let hooks: FlowHooks
    let environment: FlowEnvironment
    /// Carries the flow's name and run id (and the parent's, for a subflow).
    let logger: Logger
    /// Set for a submitted run an agent runs: its coordinators read results from durable journals.
    let journal: RunJournal?
    /// Its input as JSON, for its events (nil when unknown).
    let parameters: [UInt8]?
    /// Parameters and results past this many bytes of JSON are recorded as a note of their size.
    static let recordedJSONLimit = 16 * 1024

    /// `flowRunID` is the run's id when it was given one before it started (a submitted run);
    /// otherwise a new one.
    init(name: String, flowRunID: String? = nil, parentFlowRunID: String? = nil, options: FlowOptions,
         hooks: FlowHooks, environment: FlowEnvironment, logger: Logger, journal: RunJournal? = nil,
         parameters: [UInt8]? = nil) {
        self.name = name
        self.parameters = parameters
        self.journal = journal
        self.flowRunID = flowRunID ?? UUID().uuidString.lowercased()
        self.parentFlowRunID = parentFlowRunID
        self.options = options
        self.hooks = hooks
        self.environment = environment
        var logger = logger
        logger[metadataKey: "flow"] = "\(name)"
        logger[metadataKey: "flow-run"] = "\(self.flowRunID)"
        if let parentFlowRunID { logger[metadataKey: "parent-flow-run"] = "\(parentFlowRunID)" }
        self.logger = logger
    }

    /// Runs the flow (see ``run(_:)``) in a task of its own, registered by its run id, so a cancel
    /// request from outside (`trib cancel`, another client, a worker that heard one) can cancel
    /// it; that ends it with ``FlowCancelled``. Cancelling the caller's task cancels it too, and
    /// ends it with `CancellationError`.
    func runCancellable<Output: Sendable>(result: @escaping @Sendable (Output) -> [UInt8]? = { _ in nil },
                                          _ attempt: @escaping @Sendable (Int) async throws -> Output)
        async throws -> Output {
        let task = Task { try await run(result: result, attempt) }
        environment.activeFlowRuns.register(flowRunID, flowName: name) { task.cancel() }
        let outcome = await withTaskCancellationHandler {
            await task.result
        } onCancel: {
            task.cancel()
        }
        let outsideReason = environment.activeFlowRuns.remove(flowRunID)
        switch outcome {
        case .success(let output):
            return output
        case .failure(let error):
            // Whatever error the cancellation surfaced as (often a task run's Cancelled failure).
            guard task.isCancelled else { throw error }
            if Task.isCancelled { throw CancellationError() }
            throw FlowCancelled(flowName: name, flowRunID: flowRunID, reason: outsideReason ?? "cancelled")
        }
    }

    /// Runs `attempt` (given the attempt number) until it returns, or fails with no retries left,
    /// then runs the hooks of the final state.
    func run<Output: Sendable>(result: @Sendable (Output) -> [UInt8]? = { _ in nil },
                               _ attempt: @Sendable (Int) async throws -> Output) async throws -> Output {
        let started = ContinuousClock.now
        logger.info("flow run started")
        record("Running", attempt: 1, parameters: parameters)
        var number = 1
        while true {
            do {
                let output = try await attempt(number)
                logger.info("flow run Completed", metadata: ["duration": "\(started.duration(to: .now))"])
                record("Completed", attempt: number, result: result(output))
                await runHooks(.completed, attempt: number, error: nil, started: started)
                return output
            } catch {
                // A flow whose Swift task was cancelled ends Cancelled, whatever error that caused.
                let state = Task.isCancelled ? .cancelled : FlowState(endedBy: error)
                if state == .failed, number <= options.retries {
                    let delay = options.retryDelay.delay(beforeRetry: number)
                    logger.warning("flow attempt failed; retrying the flow", metadata: [
                        "attempt": "\(number)", "delay": "\(delay)", "error": "\(error)",
                    ])
                    record("Retrying", attempt: number, error: error)
                    await runHooks(.retrying, attempt: number, error: error, started: started)
                    do {
                        try await Task.sleep(for: delay)
                    } catch {
                        // Cancelled while waiting to retry: the run ends Cancelled, with its hooks.
                        logger.error("flow run Cancelled while waiting to retry")
                        record("Cancelled", attempt: number, error: error)
                        await runHooks(.cancelled, attempt: number, error: error, started: started)
                        throw error
                    }
                    number += 1
                    continue
                }
                logger.error("flow run \(state.rawValue)", metadata: ["error": "\(error)"])
                // An abandoned run (another agent resumed it) is the other's to record.
                if journal?.isAbandoned != true { record(state.rawValue, attempt: number, error: error) }
                await runHooks(state, attempt: number, error: error, started: started)
                throw error
            }
        }
    }

    /// Tells the client's event sink, if any, that the run entered `state`.
    private func record(_ state: String, attempt: Int, error: (any Error)? = nil, parameters: [UInt8]? = nil,
                        result: [UInt8]? = nil) {
        guard let events = environment.events else { return }
        // A subflow shares its parent's journal; the agent and work queue are the top-level run's.
        let submitted = parentFlowRunID == nil ? journal : nil
        events.record(RunEvent(kind: .flowRun, flowRunID: flowRunID, parentFlowRunID: parentFlowRunID, name: name,
                               state: state, attempt: attempt, agent: submitted?.agentID,
                               workQueue: submitted?.workQueue, epoch: journal?.epoch ?? 1,
                               sequence: events.nextSequence(), error: error.map { "\($0)" },
                               parameters: Self.recorded(parameters), result: Self.recorded(result)))
    }

    /// JSON as events carry it: the text, or a note of its size past ``recordedJSONLimit``.
    static func recorded(_ json: [UInt8]?) -> String? {
        guard let json else { return nil }
        guard json.count <= recordedJSONLimit else {
            return "(\(json.count) bytes of JSON, over the \(recordedJSONLimit / 1024) KiB recorded)"
        }
        return String(decoding: json, as: UTF8.self)
    }

    /// One attempt on `broker`: a coordinator of its own, the body under the timeout, then every
    /// task run it submitted waited for, and the rule that an unhandled task failure fails the flow.
    func attempt<Output: Sendable>(_ number: Int, on broker: any Broker,
                                   _ body: @escaping @Sendable (FlowContext) async throws -> Output)
        async throws -> Output {
        let coordinator = Coordinator(broker: broker, flowRunID: flowRunID, parentFlowRunID: parentFlowRunID,
                                      attempt: number, logger: logger, environment: environment,
                                      flowLimits: TagLimiter(limits: options.concurrencyLimits), journal: journal)
        try await coordinator.start()
        do {
            let context = FlowContext(coordinator: coordinator)
            // Cancelling the flow's Swift task ends the runs it waits for, so its waits return.
            let output = try await withTaskCancellationHandler {
                if let timeout = options.timeout {
                    return try await withTimeout(timeout, startedBefore: elapsedBeforeThisExecution(attempt: number),
                                                 coordinator: coordinator) { try await body(context) }
                }
                return try await body(context)
            } onCancel: {
                coordinator.cancelOutstanding(reason: "not finished: the flow run was cancelled")
            }
            await coordinator.waitForOutstanding()
            await coordinator.shutdown()
            let unhandled = coordinator.unhandledFailures
            if !unhandled.isEmpty { throw UnhandledTaskFailures(failures: unhandled) }
            return output
        } catch {
            // An abandoned run (another agent resumed it) says nothing: the run goes on there.
            if Task.isCancelled, journal?.isAbandoned != true {
                coordinator.announceCancellation(reason: "the flow run was cancelled")
            }
            await coordinator.waitForBackground()
            await coordinator.shutdown()
            throw error
        }
    }

    /// How long attempt `number` of this run had been going before this execution started it: for
    /// the first attempt of a submitted run that another agent resumed, the time since the run's
    /// first start, so its timeout counts from then. (A later attempt's earlier start is not
    /// recorded: its timeout counts from this execution's start of it.)
    private func elapsedBeforeThisExecution(attempt number: Int) -> Duration {
        guard number == 1, parentFlowRunID == nil, let firstStarted = journal?.firstStarted else { return .zero }
        return .seconds(max(0, Date().timeIntervalSince(firstStarted)))
    }

    /// Runs `body`; at `timeout` (less the `startedBefore` the attempt already ran elsewhere)
    /// cancels it and every task run it waits for, and throws ``FlowTimedOut``.
    private func withTimeout<Output: Sendable>(_ timeout: Duration, startedBefore: Duration, coordinator: Coordinator,
                                               _ body: @escaping @Sendable () async throws -> Output)
        async throws -> Output {
        try await withThrowingTaskGroup(of: Output?.self) { group in
            let remaining = timeout - startedBefore
            if remaining > .zero { group.addTask { try await body() } }
            group.addTask {
                try await Task.sleep(for: max(remaining, .zero))
                return nil
            }
            if let first = try await group.next(), let output = first {
                group.cancelAll()
                return output
            }
            // The body's waits on task runs end once those runs are cancelled; workers drop the
            // attempt's tasks.
            coordinator.cancelOutstanding(reason: "not finished: the flow timed out after \(timeout)")
            coordinator.announceAttemptCancellation(reason: "the flow attempt timed out after \(timeout)")
            group.cancelAll()
            throw FlowTimedOut(flowName: name, timeout: timeout)
        }
    }

    /// Runs the hooks for `state`, one after another; a hook's error is logged, never thrown.
    private func runHooks(_ state: FlowState, attempt: Int, error: (any Error)?, started: ContinuousClock.Instant) async {
        guard journal?.isAbandoned != true else { return }
        let info = FlowRunInfo(flowName: name, flowRunID: flowRunID, parentFlowRunID: parentFlowRunID,
                               attempt: attempt, state: state, error: error, duration: started.duration(to: .now))
        for hook in hooks.hooks(for: state) {
            do {
                try await hook.body(info)
            } catch {
                logger.error("a flow hook failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
