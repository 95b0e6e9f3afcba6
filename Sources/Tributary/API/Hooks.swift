import Foundation

/// A task run as its hooks see it: which run, and the state it reached.
public struct TaskRunInfo: Sendable {
    public let taskName: String
    public let taskRunID: String
    /// The run's name from its options' `runName` template, if it has one.
    public let runName: String?
    public let flowRunID: String
    /// The attempt the state belongs to.
    public let attempt: Int
    /// The final state (for `onCompletion`, `onFailure`), or Retrying (for `onRetry`).
    public let state: TaskState
    /// The failed attempt's error, for `onFailure` and `onRetry`.
    public let error: RemoteError?
}

/// Code the coordinator runs when a task run reaches a state. A hook that throws is logged; it
/// never changes the run's state or fails the flow.
public struct TaskHook: Sendable {
    let body: @Sendable (TaskRunInfo) async throws -> Void

    public init(_ body: @escaping @Sendable (TaskRunInfo) async throws -> Void) {
        self.body = body
    }

    /// Sends a ``Notification`` of the run's state through `notifier`.
    public static func notify(_ notifier: any Notifier) -> TaskHook {
        TaskHook { info in try await notifier.send(Notification(task: info)) }
    }
}

/// The state of a flow run: final, or Retrying between attempts.
public enum FlowState: String, Sendable, Codable {
    /// An attempt failed and the flow runs again (``FlowOptions/retries``); not final.
    case retrying = "Retrying"
    /// The body returned and no task failure was left unhandled.
    case completed = "Completed"
    /// The body threw, a task failure was left unhandled, or the flow timed out (after its retries).
    case failed = "Failed"
    /// The flow could not run: the broker was unreachable or refused it.
    case crashed = "Crashed"
    /// The flow's Swift task was cancelled.
    case cancelled = "Cancelled"
}

/// A flow run as its hooks see it.
public struct FlowRunInfo: Sendable {
    public let flowName: String
    public let flowRunID: String
    /// The flow run this one is a subflow of; nil for a top-level run.
    public let parentFlowRunID: String?
    /// 1 for the first attempt, 2 after the first retry, ...
    public let attempt: Int
    public let state: FlowState
    /// What failed it; nil when it completed.
    public let error: (any Error)?
    public let duration: Duration
}

/// Code the client runs when a flow run ends. A hook that throws is logged, never rethrown.
public struct FlowHook: Sendable {
    let body: @Sendable (FlowRunInfo) async throws -> Void

    public init(_ body: @escaping @Sendable (FlowRunInfo) async throws -> Void) {
        self.body = body
    }

    /// Sends a ``Notification`` of the flow run's final state through `notifier`.
    public static func notify(_ notifier: any Notifier) -> FlowHook {
        FlowHook { info in try await notifier.send(Notification(flow: info)) }
    }
}

/// A flow's hooks, by the state that runs them (Prefect's `on_completion`, `on_failure`,
/// `on_crashed`, `on_cancellation`, and `onRetry` before each retry of the whole flow).
public struct FlowHooks: Sendable {
    public var onCompletion: [FlowHook]
    public var onFailure: [FlowHook]
    public var onCrashed: [FlowHook]
    public var onCancellation: [FlowHook]
    public var onRetry: [FlowHook]

    public init(onCompletion: [FlowHook] = [], onFailure: [FlowHook] = [], onCrashed: [FlowHook] = [],
                onCancellation: [FlowHook] = [], onRetry: [FlowHook] = []) {
        self.onCompletion = onCompletion
        self.onFailure = onFailure
        self.onCrashed = onCrashed
        self.onCancellation = onCancellation
        self.onRetry = onRetry
    }

    func hooks(for state: FlowState) -> [FlowHook] {
        switch state {
        case .retrying: onRetry
        case .completed: onCompletion
        case .failed: onFailure
        case .crashed: onCrashed
        case .cancelled: onCancellation
        }
    }
}
