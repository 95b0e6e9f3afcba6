/// How a flow runs as a whole: retries of the whole body and a timeout per attempt.
public struct FlowOptions: Sendable {
    /// Runs of the whole body after the first fails (not after Crashed or Cancelled). Tasks with a
    /// cache policy that completed in an earlier attempt are reused, not run again.
    public var retries: Int
    /// The wait before each retry.
    public var retryDelay: RetryDelay
    /// How long one attempt may take; at the timeout the task runs it still waits for end Cancelled
    /// and the attempt fails with ``FlowTimedOut``.
    public var timeout: Duration?
    /// At most N running task runs with a tag within this flow run (`["db": 2]`); the client's
    /// `concurrencyLimits` bound every flow run together.
    public var concurrencyLimits: [String: Int]

    public init(retries: Int = 0, retryDelay: RetryDelay = .none, timeout: Duration? = nil,
                concurrencyLimits: [String: Int] = [:]) {
        self.concurrencyLimits = concurrencyLimits
        self.retries = retries
        self.retryDelay = retryDelay
        self.timeout = timeout
    }
}

/// A flow attempt that ran past its ``FlowOptions/timeout``.
public struct FlowTimedOut: Error, CustomStringConvertible {
    public let flowName: String
    public let timeout: Duration
    public var description: String {
        "flow '\(flowName)' did not finish within its timeout of \(timeout); the task runs it was waiting for were cancelled"
    }
}

/// A subflow that did not complete, as its parent sees it: thrown where the parent called it.
public struct SubflowFailure: Error, CustomStringConvertible {
    public let flowName: String
    public let flowRunID: String
    public let state: FlowState
    /// What ended the subflow.
    public let error: any Error

    public var description: String {
        "subflow '\(flowName)' (run \(flowRunID)) ended \(state.rawValue): \(error)"
    }
}
