import DequeModule
import Synchronization

/// What a worker knows of cancelled flow runs: the ids it heard of (the most recent
/// ``capacity``), and the task executions running for each flow run, so a cancel can reach them.
final class FlowRunCancellations: Sendable {
    /// How many cancelled flow-run ids a worker remembers.
    static let capacity = 10_000

    private struct State {
        var cancelled: Set<String> = []
        var order: Deque<String> = []
        var running: [String: [ObjectIdentifier: TaskExecution]] = [:]
    }

    private let state = Mutex(State())

    /// Records an execution of a task of `flowRunID`; false (and nothing recorded) if that flow run
    /// was cancelled: the task must not start.
    func register(_ execution: TaskExecution, flowRunID: String) -> Bool {
        state.withLock { state in
            guard !state.cancelled.contains(flowRunID) else { return false }
            state.running[flowRunID, default: [:]][ObjectIdentifier(execution)] = execution
            return true
        }
    }

    func unregister(_ execution: TaskExecution, flowRunID: String) {
        state.withLock { state in
            state.running[flowRunID]?.removeValue(forKey: ObjectIdentifier(execution))
            if state.running[flowRunID]?.isEmpty == true { state.running.removeValue(forKey: flowRunID) }
        }
    }

    /// Remembers that `flowRunID` was cancelled and cancels its running executions; returns how
    /// many were running.
    @discardableResult
    func cancel(_ flowRunID: String) -> Int {
        let running = state.withLock { state -> [TaskExecution] in
            if state.cancelled.insert(flowRunID).inserted {
                state.order.append(flowRunID)
                if state.order.count > Self.capacity, let oldest = state.order.popFirst() {
                    state.cancelled.remove(oldest)
                }
            }
            return state.running[flowRunID].map { Array($0.values) } ?? []
        }
        running.forEach { $0.cancel() }
        return running.count
    }
}
