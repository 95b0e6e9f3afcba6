import Foundation
import Tributary

/// A flow run as the server recorded it.
public struct FlowRunRecord: Codable, Sendable, Equatable {
    public var id: String
    public var flowName: String
    public var parentFlowRunID: String?
    public var state: String
    public var attempt: Int?
    public var workQueue: String?
    public var agent: String?
    public var epoch: Int
    /// When the server first heard of it, when it first ran, and when it ended (seconds since 1970).
    public var createdAt: Double
    public var startedAt: Double?
    public var endedAt: Double?
    public var error: String?
    /// Its input and output as JSON text, when its client recorded them (a note of the size past 16 KiB).
    public var parameters: String?
    public var result: String?
    /// Its task runs by state, when the list was asked for them (`counts=true`).
    public var taskRunCounts: [String: Int]?
    /// The deployment that made it, if one did.
    public var deploymentID: String?
}

/// A task run as the server recorded it.
public struct TaskRunRecord: Codable, Sendable, Equatable {
    public var id: String
    public var flowRunID: String
    public var taskName: String
    public var runName: String?
    public var state: String
    public var attempt: Int
    public var worker: String?
    public var epoch: Int
    public var createdAt: Double
    public var startedAt: Double?
    public var endedAt: Double?
    public var error: String?
    /// Seconds from its first start to its end, once both are known.
    public var duration: Double? { startedAt.flatMap { start in endedAt.map { $0 - start } } }
}

/// One state a run entered, in the order the run entered them.
public struct StateRecord: Codable, Sendable, Equatable {
    public var state: String
    public var attempt: Int?
    public var time: Double
    public var error: String?
}

/// Flow runs created in one time slice that are in one state now.
public struct ActivityCount: Codable, Sendable, Equatable {
    /// The slice's number from the start (0, 1, ...).
    public var bucket: Int
    public var state: String
    public var count: Int
}

/// A flow run's task runs over time, in lanes (by worker or by task): each task run as a bar when
/// there are few, or how many started in each of ``slices`` time slices when there are many.
public struct Timeline: Codable, Sendable, Equatable {
    public enum Lane: String, Sendable, CaseIterable {
        case worker, task
    }

    public struct Bar: Codable, Sendable, Equatable {
        /// The task run's id (or the subflow's run id, in the `subflows` lane).
        public var id: String
        public var name: String
        public var state: String
        public var start: Double
        public var end: Double?
        /// The task runs it waited for.
        public var waitFor: [String]?
    }

    public struct LaneData: Codable, Sendable, Equatable {
        public var name: String
        public var bars: [Bar]?
        public var counts: [Int]?
    }

    /// Above this many task runs, lanes hold counts per slice instead of bars.
    public static let maxBars = 1_000
    public static let slices = 120

    /// The first start and the last end (or start) of its task runs.
    public var start: Double
    public var end: Double
    /// Seconds per time slice, when aggregated.
    public var slice: Double
    public var taskRuns: Int
    public var aggregated: Bool
    public var lanes: [LaneData]
}

/// An artifact a task or flow published, as the server recorded it.
public struct ArtifactRecord: Codable, Sendable, Equatable {
    public var id: String
    public var key: String?
    public var flowRunID: String
    /// The task run that published it; nil when the flow did.
    public var taskRunID: String?
    public var description: String?
    public var artifact: Artifact
    public var createdAt: Double
}

/// A line a task logged.
public struct LogRecord: Codable, Sendable, Equatable {
    /// Orders a flow run's logs as the server stored them: ask for those after it to follow.
    public var position: Int64
    public var flowRunID: String
    public var taskRunID: String?
    public var taskName: String?
    public var worker: String?
    public var level: String
    public var message: String
    public var time: Double
}

/// One flow run with what the server knows of its tasks and its history.
public struct FlowRunDetail: Codable, Sendable, Equatable {
    public var flowRun: FlowRunRecord
    /// How many of its task runs are in each state now.
    public var taskRunCounts: [String: Int]
    public var states: [StateRecord]
}

/// A page of results and the cursor that asks for the next (nil at the end).
public struct Page<Item: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
    public var items: [Item]
    public var nextCursor: String?
}

/// A worker or agent as its latest heartbeat showed it.
public struct ProcessRecord: Codable, Sendable, Equatable {
    public var id: String
    public var kind: String
    public var host: String
    public var pid: Int
    public var queues: [String]
    public var concurrency: Int
    public var running: Int
    public var completed: Int
    public var failed: Int
    /// How long its task attempts took, at its last heartbeat (workers only).
    public var durations: AttemptDurations?
    /// The flow runs it worked for at its last heartbeat (a worker: of its running tasks).
    public var flowRuns: [String]
    public var startedAt: Double
    public var lastSeen: Double
    /// Seconds between its heartbeats.
    public var interval: Double
    /// Whether it said it stopped.
    public var stopped: Bool
    /// Whether it is up: it has not stopped, and its last heartbeat is less than three intervals old.
    public var alive: Bool
}
