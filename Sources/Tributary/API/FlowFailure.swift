import AMQPClient

/// A flow whose body returned while task runs it submitted had failed and it never looked at them
/// (their value, their state, or as a dependency): the flow is Failed, as in Prefect.
public struct UnhandledTaskFailures: Error, CustomStringConvertible {
    public let failures: [TaskFailure]

    public var description: String {
        let listed = failures.prefix(5).map { "'\($0.taskName)' (run \($0.taskRunID)) \($0.stateName): \($0.message)" }
        let more = failures.count > 5 ? " and \(failures.count - 5) more" : ""
        return "the flow returned, but \(failures.count) task run(s) it submitted failed and it never looked at them: "
            + listed.joined(separator: "; ") + more
            + "; await their value or state (or wait for them with allowFailure) to handle a failure"
    }
}

/// A flow run cancelled by a request from outside its caller (`trib cancel`, or
/// ``Tributary/cancel(flowRunID:reason:waitingUpTo:)`` in another client): thrown by the `run`
/// that ran it. (A caller that cancels its own Swift task gets `CancellationError`, as usual.)
public struct FlowCancelled: Error, CustomStringConvertible {
    public let flowName: String
    public let flowRunID: String
    public let reason: String

    public var description: String {
        "flow run \(flowRunID) of '\(flowName)' was cancelled: \(reason)"
    }
}

extension FlowState {
    /// The final state a flow run ends in when `error` ends it: Cancelled for cancellation (its own
    /// or a subflow's), Crashed when the broker could not be used, Failed otherwise (a subflow that
    /// failed or crashed fails its parent, as a task would).
    init(endedBy error: any Error) {
        switch error {
        case is CancellationError, is FlowCancelled: self = .cancelled
        case let subflow as SubflowFailure where subflow.state == .cancelled: self = .cancelled
        case is AMQPError: self = .crashed
        default: self = .failed
        }
    }
}
