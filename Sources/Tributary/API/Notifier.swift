import Foundation
import Logging

/// Where hooks send word of a run's state: a webhook, a log, or your own (chat, e-mail, pager).
public protocol Notifier: Sendable {
    func send(_ notification: Notification) async throws
}

/// What a notifier sends: a flow or task run and the state it reached. Webhooks get it as JSON.
public struct Notification: Codable, Sendable, Equatable {
    /// `flow` or `task`.
    public var kind: String
    /// The flow's or task's name.
    public var name: String
    /// The flow run's id, or the task run's.
    public var runID: String
    public var flowRunID: String
    /// The state's name: Completed, Failed, Crashed, Cancelled, TimedOut, Retrying, Cached.
    public var state: String
    /// The error, for states that end badly.
    public var message: String?
    public var at: Date

    init(flow info: FlowRunInfo) {
        kind = "flow"
        name = info.flowName
        runID = info.flowRunID
        flowRunID = info.flowRunID
        state = info.state.rawValue
        message = info.error.map { "\($0)" }
        at = Date()
    }

    init(task info: TaskRunInfo) {
        kind = "task"
        name = info.runName ?? info.taskName
        runID = info.taskRunID
        flowRunID = info.flowRunID
        state = info.state.name
        message = info.error.map(\.description) ?? info.state.failure?.error.description
        at = Date()
    }

    /// One line for logs and chat: `flow 'etl' run 1f2e… Failed: ...`.
    public var summary: String {
        "\(kind) '\(name)' run \(runID) \(state)" + (message.map { ": \($0)" } ?? "")
    }
}

/// Writes each notification to a logger (at `level`).
public struct LogNotifier: Notifier {
    let logger: Logger
    let level: Logger.Level

    public init(logger: Logger = Logger(label: "tributary.notify"), level: Logger.Level = .notice) {
        self.logger = logger
        self.level = level
    }

    public func send(_ notification: Notification) async throws {
        logger.log(level: level, "\(notification.summary)", metadata: [
            "flow-run": "\(notification.flowRunID)", "state": "\(notification.state)",
        ])
    }
}
