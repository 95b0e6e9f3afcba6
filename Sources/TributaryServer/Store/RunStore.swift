import Logging
import Tributary

/// Where the server keeps every run it heard of: SQLite (``SQLiteRunStore``) by default.
public protocol RunStore: DeploymentStore {
    /// Records a batch of events in one transaction. An event recorded before changes nothing, and
    /// an event older than a run's latest (by epoch, then sequence) adds to its history without
    /// changing its state.
    func record(_ events: [RunEvent], heartbeats: [Heartbeat]) async throws
    /// Workers or agents that have sent a heartbeat, by id.
    func processes(_ kind: Heartbeat.Kind) async throws -> [ProcessRecord]
    /// Flow runs, newest first.
    func flowRuns(_ query: FlowRunQuery) async throws -> Page<FlowRunRecord>
    /// One flow run with its task-run counts by state and its history; nil if the store has no such run.
    func flowRun(id: String) async throws -> FlowRunDetail?
    /// Whether the store has flow run `id` (one indexed lookup, without its counts or history).
    func hasFlowRun(id: String) async throws -> Bool
    /// Task runs of one flow run.
    func taskRuns(_ query: TaskRunQuery) async throws -> Page<TaskRunRecord>
    /// One task run's history.
    func taskRunStates(id: String) async throws -> [StateRecord]
    /// Log lines of one flow run, in the order they were stored.
    func logs(_ query: LogQuery) async throws -> [LogRecord]
    /// Task-run counts by state of each of these flow runs (one query, for a list's rows).
    func taskRunCounts(flowRunIDs: [String]) async throws -> [String: [String: Int]]
    /// How many flow runs were created in each `bucket`-second slice since `since`, by their state now.
    func flowRunActivity(since: Double, bucket: Double) async throws -> [ActivityCount]
    /// A flow run's task runs over time, one lane per worker or per task name; counted per time
    /// slice when there are more than ``Timeline/maxBars``.
    func timeline(flowRunID: String, lane: Timeline.Lane) async throws -> Timeline
    /// Artifacts, newest first.
    func artifacts(_ query: ArtifactQuery) async throws -> Page<ArtifactRecord>
    /// How many flow runs and task runs are in each state now.
    func countsByState() async throws -> (flowRuns: [String: Int], taskRuns: [String: Int])
    /// Deletes flow runs that ended before `time` (seconds since 1970), with their task runs and
    /// logs; returns how many flow runs went.
    func deleteRuns(endedBefore time: Double) async throws -> Int
    /// Empties the store.
    func reset() async throws
    /// Lets go of the database.
    func close() async
}

extension RunStore {
    public func close() async {}

    /// Records a batch of events in one transaction.
    public func record(_ events: [RunEvent]) async throws {
        try await record(events, heartbeats: [])
    }
}

/// Opens the store a `--database` value names.
public enum RunStores {
    /// A PostgreSQL URL (`postgres://...`) opens a ``PostgresRunStore``, anything else a SQLite file.
    public static func open(_ database: String, logger: Logger = Logger(label: "tributary.store")) async throws
        -> any RunStore {
        if database.hasPrefix("postgres://") || database.hasPrefix("postgresql://") {
            return try await PostgresRunStore(url: database, logger: logger)
        }
        return try SQLiteRunStore(path: database)
    }
}
