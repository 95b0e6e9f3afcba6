/// A message to every worker and client on the broker, or an answer to one of them (through
/// fanout exchange `trib.control`; docs/wire-format.md).
public struct ControlMessage: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// Stop a flow run: workers discard its queued tasks and cancel its running ones; the
        /// client running it ends it Cancelled and answers `flowRunCancelled` to `replyTo`.
        case cancelFlowRun = "cancel-flow-run"
        /// Stop one attempt of a flow run (it timed out): `flowRunID` is the attempt's run-id
        /// prefix (``TaskMessage/attemptScope``); workers cancel and discard that attempt's tasks only.
        case cancelFlowAttempt = "cancel-flow-attempt"
        /// The answer of the client that was running the flow run; `detail` is the flow's name.
        case flowRunCancelled = "flow-run-cancelled"
        /// One attempt of one task run must not run any more (it held its delivery past the
        /// broker's acknowledgement timeout, and the broker handed it out again): workers discard
        /// it, or cancel it if they run it, without a report. `taskRunID` and `attempt` name it.
        case discardTaskAttempt = "discard-task-attempt"
        /// An agent resumed flow run `flowRunID` as take `epoch`: workers drop its tasks of a lower
        /// epoch, sent by a coordinator that lost the run (cut off, not dead).
        case fenceFlowRun = "fence-flow-run"
    }

    public var kind: Kind
    public var flowRunID: String
    /// Why (for a cancel request) or the flow's name (for an answer).
    public var detail: String
    /// The control queue of the sender, for an answer.
    public var replyTo: String?
    /// The task run, for `discardTaskAttempt`.
    public var taskRunID: String?
    /// The attempt of the task run, for `discardTaskAttempt`.
    public var attempt: Int?
    /// The run's current epoch, for `fenceFlowRun`.
    public var epoch: Int?

    public init(kind: Kind, flowRunID: String, detail: String, replyTo: String? = nil, taskRunID: String? = nil,
                attempt: Int? = nil, epoch: Int? = nil) {
        self.epoch = epoch
        self.kind = kind
        self.flowRunID = flowRunID
        self.detail = detail
        self.replyTo = replyTo
        self.taskRunID = taskRunID
        self.attempt = attempt
    }

    /// A request to cancel flow run `flowRunID`.
    public static func cancelFlowRun(_ flowRunID: String, reason: String, replyTo: String? = nil) -> ControlMessage {
        ControlMessage(kind: .cancelFlowRun, flowRunID: flowRunID, detail: reason, replyTo: replyTo)
    }
}

extension ControlMessage {
    /// Tells every worker to drop attempt `message.attempt` of `message.taskRunID`.
    static func discardTaskAttempt(of message: TaskMessage, reason: String) -> ControlMessage {
        ControlMessage(kind: .discardTaskAttempt, flowRunID: message.flowRunID, detail: reason,
                       taskRunID: message.taskRunID, attempt: message.attempt)
    }
}

/// This process's subscription to control messages.
public struct ControlSubscription: Sendable {
    /// The queue control messages (and answers to this process) arrive on.
    public let queueName: String
    /// Stops hearing control messages and removes the queue.
    public let close: @Sendable () async -> Void

    public init(queueName: String, close: @escaping @Sendable () async -> Void) {
        self.queueName = queueName
        self.close = close
    }
}
