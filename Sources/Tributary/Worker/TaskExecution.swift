import Synchronization

/// How one attempt ended on the worker.
enum ExecutionOutcome: Sendable {
    case completed([UInt8])
    case failed(any Error)
    /// The timeout passed first; the task was cancelled and is not waited for.
    case timedOut
    /// The worker itself was cancelled (shutting down) before the task ended.
    case interrupted
}

/// Runs a task body against its timeout. The body runs in a task of its own, so one that ignores
/// cancellation cannot hold up the report: the outcome is decided by whichever ends first.
enum TaskExecution {
    /// `stuck` hears +1 when a task is abandoned at its timeout while still running, and -1 when
    /// such a task finally returns.
    static func run(timeout: Duration?, stuck: @escaping @Sendable (Int) -> Void = { _ in },
                    _ body: @escaping @Sendable () async throws -> [UInt8]) async -> ExecutionOutcome {
        guard let timeout else { return await outcome(of: body) }
        let race = Race(stuck: stuck)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<ExecutionOutcome, Never>) in
                race.start(continuation, timeout: timeout, body)
            }
        } onCancel: {
            race.decide(.interrupted)
        }
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

    /// The first of work, timer and cancellation to finish decides the outcome; the others are cancelled.
    private final class Race: Sendable {
        private struct State {
            var continuation: CheckedContinuation<ExecutionOutcome, Never>?
            var decided: ExecutionOutcome?
            var work: Task<Void, Never>?
            var timer: Task<Void, Never>?
        }

        private let state = Mutex(State())
        private let stuck: @Sendable (Int) -> Void

        init(stuck: @escaping @Sendable (Int) -> Void) {
            self.stuck = stuck
        }

        func start(_ continuation: CheckedContinuation<ExecutionOutcome, Never>, timeout: Duration,
                   _ body: @escaping @Sendable () async throws -> [UInt8]) {
            let work = Task {
                let outcome = await TaskExecution.outcome(of: body)
                if !self.decide(outcome), case .timedOut? = self.state.withLock({ $0.decided }) {
                    self.stuck(-1)
                }
            }
            let timer = Task {
                do { try await Task.sleep(for: timeout) } catch { return }
                if self.decide(.timedOut) { self.stuck(1) }
            }
            let alreadyDecided = state.withLock { state -> ExecutionOutcome? in
                state.work = work
                state.timer = timer
                if let decided = state.decided { return decided }
                state.continuation = continuation
                return nil
            }
            if let alreadyDecided {
                work.cancel()
                timer.cancel()
                continuation.resume(returning: alreadyDecided)
            }
        }

        /// Settles the outcome if nothing has yet; returns whether this call did.
        @discardableResult
        func decide(_ outcome: ExecutionOutcome) -> Bool {
            typealias Handles = (won: Bool, continuation: CheckedContinuation<ExecutionOutcome, Never>?,
                                 work: Task<Void, Never>?, timer: Task<Void, Never>?)
            let handles = state.withLock { state -> Handles in
                guard state.decided == nil else { return (false, nil, nil, nil) }
                state.decided = outcome
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
}
