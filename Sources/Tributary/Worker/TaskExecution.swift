import Synchronization

/// How one attempt ended on the worker.
enum ExecutionOutcome: Sendable {
    case completed([UInt8])
    case failed(any Error)
    /// The timeout passed first; the task was cancelled and is not waited for.
    case timedOut
    /// The worker itself was cancelled (shutting down) before the task ended.
    case interrupted
    /// Its flow run was cancelled: the task was cancelled and has returned.
    case cancelled
}

/// One attempt of a task body on a worker. The body runs in a task of its own, so one that ignores
/// cancellation cannot hold up the report at its timeout: the outcome is decided by whichever of
/// the body, the timer and the worker's own cancellation ends first. ``cancel()`` (its flow run was
/// cancelled) is cooperative instead: the body is cancelled and its end is waited for. With an
/// `executor`, the body runs on it (the worker's ``TaskThreadPool``) rather than on Swift's
/// cooperative pool.
final class TaskExecution: Sendable {
    private struct State {
        var continuation: CheckedContinuation<ExecutionOutcome, Never>?
        var decided: ExecutionOutcome?
        var work: Task<Void, Never>?
        var timer: Task<Void, Never>?
        var cancelRequested = false
        /// The timer decided while the body still ran: it holds a thread until it returns.
        var abandoned = false
    }

    private let state = Mutex(State())
    private let timeout: Duration?
    private let stuck: @Sendable (Int) -> Void
    private let executor: (any TaskExecutor)?

    /// `stuck` hears +1 when the body is abandoned at its timeout while still running, and -1 when
    /// such a body finally returns.
    init(timeout: Duration?, executor: (any TaskExecutor)? = nil, stuck: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.timeout = timeout
        self.executor = executor
        self.stuck = stuck
    }

    /// Runs `body` once and returns how it ended.
    func run(_ body: @escaping @Sendable () async throws -> [UInt8]) async -> ExecutionOutcome {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<ExecutionOutcome, Never>) in
                start(continuation, body)
            }
        } onCancel: {
            decide(.interrupted)
        }
    }

    /// Cancels the body because its flow run was cancelled; the outcome, once the body returns
    /// (whatever it returns), is `cancelled`.
    func cancel() {
        let work = state.withLock { state -> Task<Void, Never>? in
            state.cancelRequested = true
            return state.work
        }
        work?.cancel()
    }

    /// Ends the attempt as interrupted (the worker is stopping) without waiting for the body.
    func interrupt() {
        decide(.interrupted)
    }

    /// Runs the body in the current task. A CancellationError counts as interrupted only when this
    /// task was in fact cancelled; thrown by the task on its own, it is the task's failure.
    static func outcome(of body: @Sendable () async throws -> [UInt8]) async -> ExecutionOutcome {
        do {
            return .completed(try await body())
        } catch is CancellationError where Task.isCancelled {
            return .interrupted
        } catch {
            return .failed(error)
        }
    }

    private func start(_ continuation: CheckedContinuation<ExecutionOutcome, Never>,
                       _ body: @escaping @Sendable () async throws -> [UInt8]) {
        // Decided before it started (the worker is shutting down): the body never runs.
        if let decided = state.withLock({ $0.decided }) {
            continuation.resume(returning: decided)
            return
        }
        // The worker's thread that runs the attempt gives itself back at once and runs the body
        // next; the body's thread, once it ends, runs the attempt's continuation: no other wakes.
        let work = TaskThreadPool.handingOff {
            Task(executorPreference: executor) {
                let outcome = await Self.outcome(of: body)
                let cancelled = self.state.withLock { $0.cancelRequested }
                let decided = TaskThreadPool.handingOff { self.decide(cancelled ? .cancelled : outcome) }
                if !decided, self.state.withLock({ $0.abandoned }) {
                    self.stuck(-1)
                }
            }
        }
        let timer = timeout.map { timeout in
            Task {
                do { try await Task.sleep(for: timeout) } catch { return }
                let cancelled = self.state.withLock { $0.cancelRequested }
                if self.decide(cancelled ? .cancelled : .timedOut, abandoning: true) { self.stuck(1) }
            }
        }
        let (alreadyDecided, cancelRequested) = state.withLock { state -> (ExecutionOutcome?, Bool) in
            state.work = work
            state.timer = timer
            if let decided = state.decided { return (decided, state.cancelRequested) }
            state.continuation = continuation
            return (nil, state.cancelRequested)
        }
        if let alreadyDecided {
            work.cancel()
            timer?.cancel()
            continuation.resume(returning: alreadyDecided)
        } else if cancelRequested {
            work.cancel()
        }
    }

    /// Settles the outcome if nothing has yet; returns whether this call did. `abandoning`: the body
    /// may still be running, and is no longer waited for.
    @discardableResult
    private func decide(_ outcome: ExecutionOutcome, abandoning: Bool = false) -> Bool {
        typealias Handles = (won: Bool, continuation: CheckedContinuation<ExecutionOutcome, Never>?,
                             work: Task<Void, Never>?, timer: Task<Void, Never>?)
        let handles = state.withLock { state -> Handles in
            guard state.decided == nil else { return (false, nil, nil, nil) }
            state.decided = outcome
            state.abandoned = abandoning
            defer { state.continuation = nil }
            return (true, state.continuation, state.work, state.timer)
        }
        if let continuation = handles.continuation {
            handles.work?.cancel()
            handles.timer?.cancel()
            continuation.resume(returning: outcome)
        }
        return handles.won
    }
}
