import Logging

/// What a running task knows about its run.
public struct TaskContext: Sendable {
    public let taskName: String
    public let taskRunID: String
    public let flowRunID: String
    /// 1 on the first attempt, 2 on the first retry, ...
    public let attempt: Int
    /// The worker running this attempt.
    public let workerID: String
    /// How many times this attempt's message has been handed to a worker, this time included: more
    /// than 1 after a worker was lost while holding it (killed, cut off), so the attempt may have
    /// run before. Tasks with side effects can check it (Celery's `redelivered`).
    public let deliveries: Int
    let baseLogger: Logger
    /// What the task logs, shipped back with its result.
    let logBuffer = TaskLogBuffer()
    /// What the task publishes, shipped back with its result.
    let artifacts = ArtifactBuffer()

    /// A logger whose messages carry the flow-run and task-run ids. What it logs goes to the
    /// worker's log and also travels back with the result (up to 16 KiB), so the flow's log shows
    /// it too. Built when asked for: most tasks never log, and attaching metadata has a cost on
    /// every message's path.
    public var logger: Logger {
        var logger = Logger(label: baseLogger.label) { _ in
            ShippingLogHandler(upstream: baseLogger.handler, buffer: logBuffer)
        }
        logger[metadataKey: "flow-run"] = "\(flowRunID)"
        logger[metadataKey: "task-run"] = "\(taskRunID)"
        logger[metadataKey: "task"] = "\(taskName)"
        logger[metadataKey: "attempt"] = "\(attempt)"
        return logger
    }

    /// True once the task should stop: its timeout passed, its flow run was cancelled, or the worker
    /// is shutting down.
    public var isCancelled: Bool { Task.isCancelled }

    /// Publishes an artifact of this task run (see ``Artifact``): it travels back with the attempt's
    /// result and the server records it with the run. Throws ``ArtifactError`` for a bad key or
    /// artifact, or past 1 MiB of artifacts in one attempt.
    public func publish(_ artifact: Artifact, key: String? = nil, description: String? = nil) throws {
        try artifacts.append(PublishedArtifact(key: key, description: description, artifact: artifact))
    }

    /// Throws `CancellationError` if the task should stop.
    public func checkCancellation() throws {
        try Task.checkCancellation()
    }
}
