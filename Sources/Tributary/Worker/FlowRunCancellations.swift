import DequeModule
import Synchronization

/// What a worker knows of cancelled flow runs, flow-run attempts and discarded task attempts: the
/// ids it heard of (the most recent ``capacity``), and the task executions running for each flow
/// run, so a cancel can reach them.
final class FlowRunCancellations: Sendable {
    /// Why a task must not run.
    enum Refusal: Sendable {
        /// Its flow run or flow-run attempt was cancelled: it is answered `cancelled`.
        case flowCancelled
        /// Its task attempt was discarded (it ran past the broker's delivery timeout on another
        /// worker, which reported it), or a coordinator that lost its flow run sent it (its epoch
        /// is lower than one seen for the run): dropped without a report.
        case attemptDiscarded
    }

    /// How many cancelled flow-run ids a worker remembers.
    static let capacity = 10_000

    /// A cancelled flow run or attempt. (The first attempt's scope is the bare flow-run id, so the
    /// two must not share one set of strings.)
    private enum Cancelled: Hashable {
        case flowRun(String)
        case attempt(String)
        case taskAttempt(String)

        static func taskAttempt(of message: TaskMessage) -> Cancelled {
            .taskAttempt("\(message.taskRunID)#\(message.attempt)")
        }
    }

    private struct State {
        /// Each remembered cancellation, with why (as its control message said).
        var cancelled: [Cancelled: String] = [:]
        var order: Deque<Cancelled> = []
        var running: [String: [ObjectIdentifier: (execution: TaskExecution, message: TaskMessage)]] = [:]
        /// The highest epoch seen per submitted flow run (the most recent ``capacity`` runs).
        var epochs: [String: Int] = [:]
        var epochOrder: Deque<String> = []
    }

    private let state = ThreadLock(State())

    /// Records an execution of `message`; returns why not (and records nothing) if it must not start.
    func register(_ execution: TaskExecution, for message: TaskMessage) -> Refusal? {
        state.withLock { state in
            // Nothing cancelled (the usual case): no attempt scope to work out for every task.
            if let refusal = Self.refusal(of: message, in: state) { return refusal }
            if let epoch = message.epoch { Self.raise(&state, flowRunID: message.flowRunID, to: epoch) }
            state.running[message.flowRunID, default: [:]][ObjectIdentifier(execution)] = (execution, message)
            return nil
        }
    }

    /// Why `message` must not run (or, once cancelled, why it was), if it must not.
    func refusal(of message: TaskMessage) -> Refusal? {
        state.withLock { Self.refusal(of: message, in: $0) }
    }

    private static func refusal(of message: TaskMessage, in state: State) -> Refusal? {
        if let epoch = message.epoch, let seen = state.epochs[message.flowRunID], epoch < seen { return .attemptDiscarded }
        guard !state.cancelled.isEmpty else { return nil }
        if state.cancelled[.taskAttempt(of: message)] != nil { return .attemptDiscarded }
        if state.cancelled[.flowRun(message.flowRunID)] != nil
            || state.cancelled[.attempt(message.attemptScope)] != nil { return .flowCancelled }
        return nil
    }

    /// Remembers that an agent resumed flow run `flowRunID` as take `epoch`: its tasks of lower
    /// epochs are dropped from now on (the ones running go on: their results are the same calls').
    func fence(flowRunID: String, epoch: Int) {
        state.withLock { Self.raise(&$0, flowRunID: flowRunID, to: epoch) }
    }

    private static func raise(_ state: inout State, flowRunID: String, to epoch: Int) {
        guard epoch > 1 || state.epochs[flowRunID] != nil else { return }
        if state.epochs[flowRunID] == nil {
            state.epochOrder.append(flowRunID)
            if state.epochOrder.count > capacity, let oldest = state.epochOrder.popFirst() {
                state.epochs.removeValue(forKey: oldest)
            }
        }
        state.epochs[flowRunID] = max(state.epochs[flowRunID] ?? 0, epoch)
    }

    /// The flow runs that have tasks running here now (for the worker's heartbeat).
    var runningFlowRuns: [String] {
        state.withLock { Array($0.running.keys) }
    }

    func unregister(_ execution: TaskExecution, flowRunID: String) {
        state.withLock { state in
            state.running[flowRunID]?.removeValue(forKey: ObjectIdentifier(execution))
            if state.running[flowRunID]?.isEmpty == true { state.running.removeValue(forKey: flowRunID) }
        }
    }

    /// Remembers that flow run `flowRunID` was cancelled, and why, and cancels its running
    /// executions; returns how many were running.
    @discardableResult
    func cancel(flowRun flowRunID: String, reason: String) -> Int {
        cancel(.flowRun(flowRunID), reason: reason, flowRunID: flowRunID) { _ in true }
    }

    /// Why flow run `flowRunID` was cancelled, if this worker heard it cancelled (not just one of
    /// its attempts), so its tasks' reports carry the canceller's words to the coordinator.
    func reason(forFlowRun flowRunID: String) -> String? {
        state.withLock { $0.cancelled[.flowRun(flowRunID)] }
    }

    /// Remembers that the flow-run attempt with run-id prefix `scope` was cancelled, and why, and
    /// cancels its running executions; returns how many were running.
    @discardableResult
    func cancel(attempt scope: String, reason: String) -> Int {
        // The flow-run id is the scope up to its attempt suffix, if it has one.
        let flowRunID = scope.firstRange(of: ".a").map { String(scope[..<$0.lowerBound]) } ?? scope
        return cancel(.attempt(scope), reason: reason, flowRunID: flowRunID) { $0.attemptScope == scope }
    }

    /// Remembers that attempt `attempt` of task run `taskRunID` is discarded and cancels it if it
    /// runs here; returns how many were running.
    @discardableResult
    func discard(taskRunID: String, attempt: Int, flowRunID: String, reason: String) -> Int {
        cancel(.taskAttempt("\(taskRunID)#\(attempt)"), reason: reason, flowRunID: flowRunID) {
            $0.taskRunID == taskRunID && $0.attempt == attempt
        }
    }

    private func cancel(_ id: Cancelled, reason: String, flowRunID: String, matching: (TaskMessage) -> Bool) -> Int {
        let running = state.withLock { state -> [TaskExecution] in
            if state.cancelled.updateValue(reason, forKey: id) == nil {
                state.order.append(id)
                if state.order.count > Self.capacity, let oldest = state.order.popFirst() {
                    state.cancelled.removeValue(forKey: oldest)
                }
            }
            return (state.running[flowRunID] ?? [:]).values.filter { matching($0.message) }.map(\.execution)
        }
        running.forEach { $0.cancel() }
        return running.count
    }
}
