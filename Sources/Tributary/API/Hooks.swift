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

/// Code run when a task run or a flow run reaches a state (``TaskHook``, ``FlowHook``). A hook
/// that throws is logged; it never changes the run's state or fails the flow.
public struct Hook<Info: Sendable>: Sendable {
    let body: @Sendable (Info) async throws -> Void

    public init(_ body: @escaping @Sendable (Info) async throws -> Void) {
        self.body = body
    }
}

/// Code the coordinator runs when a task run reaches a state.
public typealias TaskHook = Hook<TaskRunInfo>
/// Code the client runs when a flow run ends (or is retried).
public typealias FlowHook = Hook<FlowRunInfo>

extension Hook where Info == TaskRunInfo {
    /// Sends a ``Notification`` of the run's state through `notifier`.
    public static func notify(_ notifier: any Notifier) -> TaskHook {
        TaskHook { info in try await notifier.send(Notification(task: info)) }
    }
}

extension Hook where Info == FlowRunInfo {
    /// Sends a ``Notification`` of the flow run's state through `notifier`.
    public static func notify(_ notifier: any Notifier) -> FlowHook {
        FlowHook { info in try await notifier.send(Notification(flow: info)) }
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
    /// The flow run was cancelled: its Swift task, or a cancel request by its id.
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
