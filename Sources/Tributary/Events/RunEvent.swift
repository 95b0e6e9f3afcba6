import Foundation

/// One thing that happened to a run, as clients, agents and workers publish it on topic exchange
/// `trib.events` (in batches, see ``EventBatch``) and the server records it. Every event has an id,
/// so a batch delivered twice is recorded once; `epoch` and `sequence` order a run's events (a
/// newer state never gives way to an older one however they arrive), not the hosts' clocks.
public struct RunEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// A flow run changed state.
        case flowRun = "flow-run"
        /// A task run changed state.
        case taskRun = "task-run"
        /// A task or flow logged a line.
        case log
        /// A task or flow published an ``Artifact``.
        case artifact
    }

    /// Unique per event (a UUID).
    public var id: String
    public var kind: Kind
    public var flowRunID: String
    /// The flow run whose subflow this flow run is; nil for a top-level run.
    public var parentFlowRunID: String?
    /// Set for task-run events and task logs.
    public var taskRunID: String?
    /// The flow's name (flow-run events) or the task's (task-run events and task logs).
    public var name: String
    /// The run's name from its `runName` template, if it has one.
    public var runName: String?
    /// Prefect's name of the state entered (Pending, Running, Retrying, Completed, Failed, ...).
    public var state: String?
    public var attempt: Int?
    /// The worker that ran (or is running) the task's attempt.
    public var worker: String?
    /// The agent running a submitted flow run, and its work queue.
    public var agent: String?
    public var workQueue: String?
    /// Which take of a submitted run published it (1, then one more per takeover).
    public var epoch: Int
    /// Orders the events of one run within one epoch.
    public var sequence: Int
    /// When it happened, in seconds since 1970 (for display; never for ordering).
    public var time: Double
    /// What failed the run, for a failed state.
    public var error: String?
    /// A log line's level (trace ... critical) and text.
    public var level: String?
    public var message: String?
    /// What an artifact event published.
    public var artifact: PublishedArtifact?
    /// A flow run's input (on its Running event) and output (on Completed), as JSON text; past
    /// 16 KiB, a note of the size instead.
    public var parameters: String?
    public var result: String?
    /// The task runs a task run waits for (`waitFor`), on its Pending event.
    public var waitFor: [String]?
    /// When a task run's first attempt started, by its worker's clock, once known (a short task
    /// has no Running event; its end carries this).
    public var startedAt: Double?

    public init(id: String = UUID().uuidString.lowercased(), kind: Kind, flowRunID: String,
                parentFlowRunID: String? = nil, taskRunID: String? = nil, name: String, runName: String? = nil,
                state: String? = nil, attempt: Int? = nil, worker: String? = nil, agent: String? = nil,
                workQueue: String? = nil, epoch: Int = 1, sequence: Int, time: Double = Date().timeIntervalSince1970,
                error: String? = nil, level: String? = nil, message: String? = nil,
                artifact: PublishedArtifact? = nil, parameters: String? = nil, result: String? = nil,
                waitFor: [String]? = nil, startedAt: Double? = nil) {
        self.id = id
        self.kind = kind
        self.flowRunID = flowRunID
        self.parentFlowRunID = parentFlowRunID
        self.taskRunID = taskRunID
        self.name = name
        self.runName = runName
        self.state = state
        self.attempt = attempt
        self.worker = worker
        self.agent = agent
        self.workQueue = workQueue
        self.epoch = epoch
        self.sequence = sequence
        self.time = time
        self.error = error
        self.level = level
        self.message = message
        self.artifact = artifact
        self.parameters = parameters
        self.result = result
        self.waitFor = waitFor
        self.startedAt = startedAt
    }
}

/// The body of one message on `trib.events`: events of one kind, in the order they happened.
public struct EventBatch: Codable, Sendable, Equatable {
    public var events: [RunEvent]

    public init(events: [RunEvent]) {
        self.events = events
    }
}
