/// A change of state of a task run, for progress displays and logs.
public struct TaskEvent: Sendable {
    public let flowRunID: String
    /// The flow run whose subflow this run belongs to; nil in a top-level flow run.
    public let parentFlowRunID: String?
    public let taskRunID: String
    public let taskName: String
    /// The run's name from its options' `runName` template, if it has one.
    public let runName: String?
    public let attempt: Int
    public let state: TaskState
}
