/// One attempt of a task run, as it travels to a worker.
public struct TaskMessage: Sendable, Equatable {
    public var taskRunID: String
    public var flowRunID: String
    public var taskName: String
    public var queue: String
    /// 1 for the first attempt.
    public var attempt: Int
    /// How long the attempt may run, from when a worker starts it.
    public var timeout: Duration?
    /// Where the worker sends the result.
    public var replyTo: String
    public var persistent: Bool
    /// Ask the worker to report when it starts the attempt (for progress and coordinator deadlines).
    public var reportRunning: Bool
    /// How many times this attempt has been handed to a worker without an outcome, counting this one.
    public var deliveries: Int = 1
    /// For a submitted flow run: which take of the run by an agent sent it (1, then one more each
    /// time another agent resumed the run). Workers drop a task of a lower epoch than one they saw.
    public var epoch: Int? = nil
    /// The input, as JSON.
    public var input: [UInt8]

    /// The flow-run attempt this task run belongs to, as its run-id prefix: the task-run id
    /// without its last component (`<flow-run id>`, or `<flow-run id>.a<k>` after a flow retry).
    public var attemptScope: String {
        guard let dot = taskRunID.lastIndex(of: ".") else { return taskRunID }
        return String(taskRunID[..<dot])
    }
}

/// What a worker reports about an attempt.
public enum ResultStatus: String, Sendable, Equatable {
    case running
    case completed
    case failed
    case timedOut = "timed-out"
    case rejected
    /// The attempt was handed out more than the delivery limit without an outcome: it likely
    /// crashes the worker process that runs it.
    case crashed
    /// Its flow run was cancelled: the worker discarded the task or cancelled it while it ran.
    case cancelled
    /// Not an outcome: the attempt came in a pack and leaves it unrun (the pack was handed to a
    /// worker again after the one that held it died, or its worker put the task back), and a pack
    /// is never run twice. The coordinator sends the attempt again alone if it still waits for it.
    case returned
}

/// A worker's report on one attempt of a task run.
public struct ResultMessage: Sendable, Equatable {
    public var taskRunID: String
    public var attempt: Int
    public var status: ResultStatus
    public var workerID: String
    /// The output as JSON when completed; a JSON ``RemoteError`` when failed, timed out or rejected.
    public var body: [UInt8]
    /// What the task logged during the attempt.
    public var logs: [TaskLogRecord] = []
    /// What the task published during the attempt.
    public var artifacts: [PublishedArtifact] = []
    /// When the attempt's body started, in seconds since 1970 by the worker's clock (for display:
    /// a short task sends no `running` report, so this is how its start is known).
    public var startedAt: Double?
    /// For a ``ResultStatus/returned`` attempt: the delivery count to send it again with.
    public var deliveries: Int = 1
    /// For a ``ResultStatus/returned`` attempt of a submitted run: the take of the run that sent it.
    public var epoch: Int? = nil
}

extension ResultMessage {
    /// A `rejected` answer for an attempt that cannot run: its body is a non-retryable
    /// ``RemoteError`` of `type` saying `reason`.
    static func rejection(taskRunID: String, attempt: Int, workerID: String, type: String = "Rejected",
                          reason: String) -> ResultMessage {
        let error = RemoteError(type: type, message: reason, retryable: false)
        return ResultMessage(taskRunID: taskRunID, attempt: attempt, status: .rejected, workerID: workerID,
                             body: (try? WireJSON.encode(error)) ?? [])
    }
}

/// A message on a task queue that is not a valid task message, and why.
public struct MalformedTask: Error, Sendable, Equatable {
    public var reason: String
    /// Where to send the `rejected` answer, if the message said.
    public var replyTo: String?
    public var taskRunID: String?
    public var attempt: Int
}
