import DequeModule
import Synchronization

/// What a worker knows of cancelled flow runs and flow-run attempts: the ids it heard of (the most
/// recent ``capacity``), and the task executions running for each flow run, so a cancel can reach them.
final class FlowRunCancellations: Sendable {
    /// How many cancelled flow-run ids a worker remembers.
    static let capacity = 10_000

    /// A cancelled flow run or attempt. (The first attempt's scope is the bare flow-run id, so the
    /// two must not share one set of strings.)
    private enum Cancelled: Hashable {
        case flowRun(String)
        case attempt(String)
    }

    private struct State {
        var cancelled: Set<Cancelled> = []
        var order: Deque<Cancelled> = []
        var running: [String: [ObjectIdentifier: (execution: TaskExecution, message: TaskMessage)]] = [:]
    }

    private let state = Mutex(State())

    /// Records an execution of `message`; false (and nothing recorded) if its flow run, or its
    /// attempt of the flow run, was cancelled: the task must not start.
    func register(_ execution: TaskExecution, for message: TaskMessage) -> Bool {
        state.withLock { state in
            // Nothing cancelled (the usual case): no attempt scope to work out for every task.
            if !state.cancelled.isEmpty {
                guard !state.cancelled.contains(.flowRun(message.flowRunID)),
                      !state.cancelled.contains(.attempt(message.attemptScope)) else { return false }
            }
            state.running[message.flowRunID, default: [:]][ObjectIdentifier(execution)] = (execution, message)
            return true
        }
    }

    func unregister(_ execution: TaskExecution, flowRunID: String) {
        state.withLock { state in
            state.running[flowRunID]?.removeValue(forKey: ObjectIdentifier(execution))
            if state.running[flowRunID]?.isEmpty == true { state.running.removeValue(forKey: flowRunID) }
        }
    }

    /// Remembers that flow run `flowRunID` was cancelled and cancels its running executions;
    /// returns how many were running.
    @discardableResult
    func cancel(flowRun flowRunID: String) -> Int {
        cancel(.flowRun(flowRunID), flowRunID: flowRunID) { _ in true }
    }

    /// Remembers that the flow-run attempt with run-id prefix `scope` was cancelled and cancels
    /// its running executions; returns how many were running.
    @discardableResult
    func cancel(attempt scope: String) -> Int {
        // The flow-run id is the scope up to its attempt suffix, if it has one.
        let flowRunID = scope.firstRange(of: ".a").map { String(scope[..<$0.lowerBound]) } ?? scope
        return cancel(.attempt(scope), flowRunID: flowRunID) { $0.attemptScope == scope }
    }

    private func cancel(_ id: Cancelled, flowRunID: String, matching: (TaskMessage) -> Bool) -> Int {
        let running = state.withLock { state -> [TaskExecution] in
            if state.cancelled.insert(id).inserted {
                state.order.append(id)
                if state.order.count > Self.capacity, let oldest = state.order.popFirst() {
                    state.cancelled.remove(oldest)
                }
            }
            return (state.running[flowRunID] ?? [:]).values.filter { matching($0.message) }.map(\.execution)
        }
        running.forEach { $0.cancel() }
        return running.count
    }
}
