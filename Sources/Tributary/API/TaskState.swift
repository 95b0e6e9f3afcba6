/// The state of a task run, with Prefect's names. A failure is held boxed (`indirect`), so a state
/// takes one word in each of the coordinator's task runs.
public enum TaskState: Sendable, Equatable, CustomStringConvertible {
    case pending
    case running
    case retrying
    case completed
    /// Completed by reusing a stored result (a cache hit): it never reached a worker.
    case cached
    indirect case failed(TaskFailure)
    indirect case crashed(TaskFailure)
    indirect case cancelled(TaskFailure)
    indirect case timedOut(TaskFailure)

    /// Prefect's name of the state: Pending, Running, Retrying, Completed, Failed, Crashed, Cancelled, TimedOut.
    public var name: String {
        switch self {
        case .pending: "Pending"
        case .running: "Running"
        case .retrying: "Retrying"
        case .completed: "Completed"
        case .cached: "Cached"
        case .failed: "Failed"
        case .crashed: "Crashed"
        case .cancelled: "Cancelled"
        case .timedOut: "TimedOut"
        }
    }

    /// True once the run has ended, well or badly.
    public var isFinal: Bool {
        switch self {
        case .pending, .running, .retrying: false
        default: true
        }
    }

    /// Completed or Cached: the run has an output.
    public var isCompleted: Bool { self == .completed || self == .cached }

    /// Failed, Crashed or TimedOut: the run itself went wrong (Cancelled runs never ran).
    public var isFailure: Bool {
        switch self {
        case .failed, .crashed, .timedOut: true
        default: false
        }
    }

    /// The failure of a run that ended badly; nil otherwise.
    public var failure: TaskFailure? {
        switch self {
        case .failed(let f), .crashed(let f), .cancelled(let f), .timedOut(let f): f
        default: nil
        }
    }

    public var description: String {
        if let failure { return "\(name): \(failure.message)" }
        return name
    }
}

/// An error as it travelled back from a worker: the Swift type name, the message, and whether
/// retrying can help.
public struct RemoteError: Codable, Sendable, Equatable, CustomStringConvertible {
    public var type: String
    public var message: String
    public var retryable: Bool

    public init(type: String, message: String, retryable: Bool = true) {
        self.type = type
        self.message = message
        self.retryable = retryable
    }

    public var description: String { "\(type): \(message)" }
}

/// Why a task run ended badly; thrown by ``TaskFuture/value``.
public struct TaskFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public let taskName: String
    public let taskRunID: String
    /// The final state's name (Failed, Crashed, Cancelled, TimedOut).
    public let stateName: String
    /// The error as the worker reported it (or the coordinator, for lost and timed-out runs).
    public let error: RemoteError
    /// How many attempts were made.
    public let attempts: Int

    /// The remote error's Swift type name.
    public var remoteType: String { error.type }
    /// The remote error's message.
    public var message: String { error.message }

    public var description: String {
        let tries = attempts == 1 ? "1 attempt" : "\(attempts) attempts"
        return "task '\(taskName)' (run \(taskRunID)) ended \(stateName) after \(tries): \(error)"
    }
}

/// Conform an error to this to tell the coordinator that retrying cannot help (bad data, say).
public protocol NonRetryableError: Error {}
