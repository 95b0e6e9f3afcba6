import Foundation

/// Where a submitted flow run is: Prefect's states for a flow run.
public enum FlowRunState: String, Codable, Sendable, CaseIterable {
    /// On its work queue, waiting for an agent.
    case pending = "Pending"
    /// An agent runs it.
    case running = "Running"
    case completed = "Completed"
    case failed = "Failed"
    case cancelled = "Cancelled"
    /// It could not run to an end: its agents kept dying, or the broker refused it.
    case crashed = "Crashed"

    /// Whether the run has ended.
    public var isFinal: Bool { self != .pending && self != .running }

    init(_ ended: FlowState) {
        switch ended {
        case .completed: self = .completed
        case .failed, .retrying: self = .failed
        case .crashed: self = .crashed
        case .cancelled: self = .cancelled
        }
    }
}

/// The latest that is known of a submitted flow run: its state, and its output or error once it
/// has ended. Kept by the broker for the run's retention after its last change.
public struct FlowRunStatus: Codable, Sendable, Equatable {
    public var flowRunID: String
    public var flowName: String
    public var workQueue: String
    public var state: FlowRunState
    /// Grows with every change, so the newest of two copies is known.
    public var sequence: Int
    /// Which take of the run by an agent wrote it: 1, then one more each time another agent
    /// resumed the run. A status of a higher epoch is newer, whatever its sequence.
    public var epoch: Int
    /// The agent that runs or ran it.
    public var agentID: String?
    /// The output as JSON text, once Completed.
    public var output: String?
    /// What ended it, once Failed, Cancelled or Crashed.
    public var error: RemoteError?
    /// When its agent (the latest, after a takeover) started it.
    public var startedAt: Date?
    /// When the first agent that took it started it (the same as `startedAt` until a takeover).
    public var firstStartedAt: Date?
    public var updatedAt: Date

    public init(flowRunID: String, flowName: String, workQueue: String, state: FlowRunState, sequence: Int,
                epoch: Int = 1, agentID: String? = nil, output: String? = nil, error: RemoteError? = nil,
                updatedAt: Date = Date()) {
        self.epoch = epoch
        self.flowRunID = flowRunID
        self.flowName = flowName
        self.workQueue = workQueue
        self.state = state
        self.sequence = sequence
        self.agentID = agentID
        self.output = output
        self.error = error
        self.updatedAt = updatedAt
    }

    /// A run's first status: on its work queue, no agent yet.
    static func pending(_ run: FlowRunMessage) -> FlowRunStatus {
        FlowRunStatus(flowRunID: run.flowRunID, flowName: run.flowName, workQueue: run.workQueue, state: .pending,
                      sequence: 1)
    }

    /// The next status of the same run.
    func next(_ state: FlowRunState, agentID: String? = nil, epoch: Int? = nil, output: String? = nil,
              error: RemoteError? = nil) -> FlowRunStatus {
        var next = FlowRunStatus(flowRunID: flowRunID, flowName: flowName, workQueue: workQueue, state: state,
                                 sequence: sequence + 1, epoch: epoch ?? self.epoch, agentID: agentID ?? self.agentID,
                                 output: output, error: error)
        next.startedAt = startedAt
        next.firstStartedAt = firstStartedAt
        return next
    }

    /// The newer of two statuses of one run: the higher epoch, then the higher sequence; at the
    /// same, an ended one.
    static func newest(_ a: FlowRunStatus, _ b: FlowRunStatus) -> FlowRunStatus {
        if a.epoch != b.epoch { return a.epoch > b.epoch ? a : b }
        if a.sequence != b.sequence { return a.sequence > b.sequence ? a : b }
        return b.state.isFinal ? b : a
    }
}

/// A submitted flow run ended other than Completed.
public struct FlowRunFailed: Error, CustomStringConvertible, Sendable {
    public let status: FlowRunStatus

    public var description: String {
        let why = status.error.map { ": \($0)" } ?? ""
        return "flow run \(status.flowRunID) of '\(status.flowName)' ended \(status.state.rawValue)\(why)"
    }
}
