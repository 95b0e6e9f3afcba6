import Synchronization

/// One task run as the coordinator keeps it: its current state, its attempt, and who waits for it.
final class TaskRun: Sendable {
    let id: String
    let taskName: String
    /// Its options, shared with the other runs of the same `map`.
    private let sharedOptions: SharedTaskOptions
    var options: TaskOptions { _read { yield sharedOptions.value } }
    let flowRunID: String
    /// The JSON input, kept for retries.
    let input: [UInt8]
    /// The run's name from its options' template, if it has one.
    let name: String?

    private struct State {
        var attempt = 0
        var taskState: TaskState = .pending
        var output: [UInt8]?
        var onFinish: [@Sendable (TaskState) -> Void] = []
        var observed = false
        var worker: String?
        var startedAt: Double?
        /// The latest attempt with an outcome (a result other than `running`, or a missed deadline).
        var attemptWithOutcome = 0
        /// The latest attempt sent again after a pack returned it.
        var attemptSentAgain = 0
    }

    private let state = Mutex(State())

    init(id: String, taskName: String, options: SharedTaskOptions, flowRunID: String, input: [UInt8],
         name: String? = nil) {
        self.name = name
        self.id = id
        self.taskName = taskName
        self.sharedOptions = options
        self.flowRunID = flowRunID
        self.input = input
    }

    var currentState: TaskState { state.withLock { $0.taskState } }
    var attempt: Int { state.withLock { $0.attempt } }
    var output: [UInt8]? { state.withLock { $0.output } }
    /// The worker whose report on the run was heard last.
    var worker: String? {
        get { state.withLock { $0.worker } }
        set { state.withLock { $0.worker = newValue } }
    }

    /// When its first attempt that a worker reported on started (seconds since 1970, the worker's clock).
    var startedAt: Double? {
        get { state.withLock { $0.startedAt } }
        set { state.withLock { state in state.startedAt = [state.startedAt, newValue].compactMap { $0 }.min() } }
    }

    /// Records that attempt `attempt` has an outcome: a pack that returns it unrun is ignored.
    func recordOutcome(of attempt: Int) {
        state.withLock { $0.attemptWithOutcome = max($0.attemptWithOutcome, attempt) }
    }

    /// Whether attempt `attempt`, returned unrun from a pack, is to be sent again: the run waits
    /// for it (it is the current attempt, with no outcome) and it was not sent again already (a
    /// pack's tasks may be returned twice). True once per attempt.
    func takeReturn(of attempt: Int) -> Bool {
        state.withLock { state in
            guard !state.taskState.isFinal, state.attempt == attempt, state.attemptWithOutcome < attempt,
                  state.attemptSentAgain < attempt else { return false }
            state.attemptSentAgain = attempt
            return true
        }
    }

    /// Starts attempt `attempt`; false if the run has already ended.
    func begin(attempt: Int) -> Bool {
        state.withLock { state in
            guard !state.taskState.isFinal else { return false }
            state.attempt = attempt
            return true
        }
    }

    /// Moves to a state that is not final; false if the run has already ended.
    @discardableResult
    func transition(to next: TaskState) -> Bool {
        state.withLock { state in
            guard !state.taskState.isFinal else { return false }
            state.taskState = next
            return true
        }
    }

    /// Ends the run. Returns false (and changes nothing) if it had already ended. If it ends it,
    /// `beforeWaking` runs first, before anyone can see the run ended (under the run's lock).
    @discardableResult
    func finish(_ final: TaskState, output: [UInt8]? = nil, beforeWaking: () -> Void = {}) -> Bool {
        let callbacks = state.withLock { state -> [@Sendable (TaskState) -> Void]? in
            guard !state.taskState.isFinal else { return nil }
            beforeWaking()
            state.taskState = final
            state.output = output
            defer { state.onFinish.removeAll() }
            return state.onFinish
        }
        guard let callbacks else { return false }
        for callback in callbacks { callback(final) }
        return true
    }

    /// Calls `callback` with the final state once the run ends (at once if it has).
    func onFinish(_ callback: @escaping @Sendable (TaskState) -> Void) {
        let final = state.withLock { state -> TaskState? in
            if state.taskState.isFinal { return state.taskState }
            state.onFinish.append(callback)
            return nil
        }
        if let final { callback(final) }
    }

    /// Whether the flow looked at the run's outcome (its value, its state, or as a dependency):
    /// a failure it looked at counts as handled.
    var wasObserved: Bool { state.withLock { $0.observed } }

    /// Records that the flow looked at the run's outcome.
    func markObserved() {
        state.withLock { $0.observed = true }
    }

    /// Waits for the final state.
    func finished() async -> TaskState {
        if case let current = currentState, current.isFinal { return current }
        return await withCheckedContinuation { continuation in
            onFinish { continuation.resume(returning: $0) }
        }
    }

    func failure(_ stateName: String, _ error: RemoteError, attempts: Int? = nil) -> TaskFailure {
        TaskFailure(taskName: taskName, taskRunID: id, stateName: stateName, error: error,
                    attempts: attempts ?? max(attempt, 1))
    }
}
