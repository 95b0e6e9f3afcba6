import Foundation
import Tributary

/// The run store over SQL: one schema and one set of queries, run by an ``SQLExecutor`` on SQLite
/// (``SQLiteRunStore``) or PostgreSQL (``PostgresRunStore``).
protocol SQLRunStore: RunStore {
    var executor: any SQLExecutor { get }
}

extension SQLRunStore {
    /// A batch becomes a few multi-row statements: one row per run (its events merged, as they
    /// would be one by one), one per state entered, one per log line.
    public func record(_ events: [RunEvent], heartbeats: [Heartbeat]) async throws {
        guard !events.isEmpty || !heartbeats.isEmpty else { return }
        let dialect = executor.dialect
        var flowRuns: [String: MergedRun] = [:], taskRuns: [String: MergedRun] = [:]
        var flowStates: [any SQLBindable] = [], taskStates: [any SQLBindable] = [], logs: [any SQLBindable] = []
        var artifacts: [any SQLBindable] = []
        let encoder = JSONEncoder()
        for event in events {
            let state = event.state ?? "Pending"
            switch event.kind {
            case .flowRun:
                flowRuns[event.flowRunID, default: MergedRun(event)].merge(event)
                flowStates += [event.flowRunID, event.epoch, event.sequence, state, event.attempt, event.time, event.error]
                    as [any SQLBindable]
            case .taskRun:
                guard let id = event.taskRunID else { continue }
                taskRuns[id, default: MergedRun(event)].merge(event)
                taskStates += [id, event.epoch, event.sequence, state, event.attempt, event.time, event.error]
                    as [any SQLBindable]
            case .log:
                logs += [event.id, event.flowRunID, event.taskRunID, event.taskRunID == nil ? nil : event.name,
                         event.worker, event.level ?? "info", event.message ?? "", event.time] as [any SQLBindable]
            case .artifact:
                guard let published = event.artifact,
                      let data = try? String(decoding: encoder.encode(published.artifact), as: UTF8.self) else { continue }
                artifacts += [event.id, published.key, published.artifact.kind, event.flowRunID, event.taskRunID,
                              published.description, data, published.at] as [any SQLBindable]
            }
        }
        var statements: [SQLStatement] = []
        statements += Self.chunked(flowRuns.values.flatMap { $0.flowRunRow }, columns: 15) {
            Schema.upsertFlowRuns(dialect, rows: $0)
        }
        statements += Self.chunked(taskRuns.values.flatMap { $0.taskRunRow }, columns: 14) {
            Schema.upsertTaskRuns(dialect, rows: $0)
        }
        statements += Self.chunked(flowStates, columns: 7) { Schema.insertStates(of: "flow_runs", rows: $0) }
        statements += Self.chunked(taskStates, columns: 7) { Schema.insertStates(of: "task_runs", rows: $0) }
        statements += Self.chunked(logs, columns: 8) { Schema.insertLogs(rows: $0) }
        statements += Self.chunked(artifacts, columns: 8) { Schema.insertArtifacts(rows: $0) }
        for beat in heartbeats {
            statements.append(SQLStatement(Schema.upsertProcess, [
                beat.id, beat.kind.rawValue, beat.host, Int(beat.pid), beat.queues.joined(separator: ","),
                beat.concurrency, beat.running, beat.completed, beat.failed,
                beat.durations.flatMap { try? String(decoding: JSONEncoder().encode($0), as: UTF8.self) },
                beat.flowRuns?.joined(separator: ","), beat.startedAt, beat.time,
                beat.interval, beat.sequence, beat.stopped,
            ]))
        }
        try await executor.write(statements)
    }

    /// Statements of at most 500 rows each over `values`, `columns` to a row.
    private static func chunked(_ values: [any SQLBindable], columns: Int, sql: (Int) -> String) -> [SQLStatement] {
        let perStatement = 500 * columns
        return stride(from: 0, to: values.count, by: perStatement).map { start in
            let slice = Array(values[start..<min(start + perStatement, values.count)])
            return SQLStatement(sql(slice.count / columns), slice)
        }
    }

    public func processes(_ kind: Heartbeat.Kind) async throws -> [ProcessRecord] {
        let now = Date().timeIntervalSince1970
        return try await executor.read(SQLStatement("SELECT * FROM processes WHERE kind = ? ORDER BY id", [kind.rawValue]))
            .map { row in
                let lastSeen = row.double("last_seen"), interval = row.double("interval"), stopped = row.int("stopped") != 0
                return ProcessRecord(id: row.string("id"), kind: row.string("kind"), host: row.string("host"),
                                     pid: row.int("pid"), queues: row.string("queues").split(separator: ",").map(String.init),
                                     concurrency: row.int("concurrency"), running: row.int("running"),
                                     completed: row.int("completed"), failed: row.int("failed"),
                                     durations: row["durations"]?.string.flatMap {
                                         try? JSONDecoder().decode(AttemptDurations.self, from: Data($0.utf8))
                                     },
                                     flowRuns: stopped ? [] : (row["flow_runs"]?.string ?? "").split(separator: ",").map(String.init),
                                     startedAt: row.double("started_at"), lastSeen: lastSeen, interval: interval,
                                     stopped: stopped, alive: !stopped && now - lastSeen < 3 * interval)
            }
    }

    public func flowRuns(_ query: FlowRunQuery) async throws -> Page<FlowRunRecord> {
        var conditions: [String] = [], values: [any SQLBindable] = []
        if !query.states.isEmpty {
            conditions.append("state IN (\(query.states.map { _ in "?" }.joined(separator: ", ")))")
            values += query.states
        }
        for (column, value) in [("flow_name", query.flowName), ("work_queue", query.workQueue),
                                ("parent_flow_run_id", query.parentFlowRunID)] {
            if let value {
                conditions.append("\(column) = ?")
                values.append(value)
            }
        }
        if let since = query.since {
            conditions.append("created_at >= ?")
            values.append(since)
        }
        if let until = query.until {
            conditions.append("created_at < ?")
            values.append(until)
        }
        try Self.newestFirst(after: query.cursor, &conditions, &values)
        let rows = try await executor.read(SQLStatement("SELECT * FROM flow_runs" + Self.whereClause(conditions)
            + " ORDER BY created_at DESC, id DESC LIMIT \(query.limit + 1)", values)).map(Self.flowRun)
        let page = Self.page(rows, limit: query.limit) { Cursor(key: $0.createdAt, id: $0.id) }
        return Page(items: page.items, nextCursor: page.nextCursor)
    }

    public func hasFlowRun(id: String) async throws -> Bool {
        try await !executor.read(SQLStatement("SELECT 1 AS found FROM flow_runs WHERE id = ?", [id])).isEmpty
    }

    public func flowRun(id: String) async throws -> FlowRunDetail? {
        guard let row = try await executor.read(SQLStatement("SELECT * FROM flow_runs WHERE id = ?", [id])).first else {
            return nil
        }
        var counts: [String: Int] = [:]
        for count in try await executor.read(SQLStatement(
            "SELECT state, count(*) AS n FROM task_runs WHERE flow_run_id = ? GROUP BY state", [id])) {
            counts[count.string("state")] = count.int("n")
        }
        let states = try await executor.read(SQLStatement("""
            SELECT state, attempt, time, error FROM flow_run_states WHERE flow_run_id = ? ORDER BY epoch, sequence
            """, [id])).map(Self.state)
        return FlowRunDetail(flowRun: Self.flowRun(row), taskRunCounts: counts, states: states)
    }

    public func taskRuns(_ query: TaskRunQuery) async throws -> Page<TaskRunRecord> {
        var conditions = ["flow_run_id = ?"], values: [any SQLBindable] = [query.flowRunID]
        if !query.states.isEmpty {
            conditions.append("state IN (\(query.states.map { _ in "?" }.joined(separator: ", ")))")
            values += query.states
        }
        let key: String, order: String, after: String
        switch query.sort {
        case .start:
            (key, order, after) = ("coalesce(started_at, created_at)", "ASC", ">")
        case .duration:
            (key, order, after) = ("coalesce(ended_at - started_at, -1)", "DESC", "<")
        }
        if let text = query.cursor {
            let cursor = try Cursor(text)
            conditions.append("(\(key) \(after) ? OR (\(key) = ? AND id > ?))")
            values += [cursor.key, cursor.key, cursor.id] as [any SQLBindable]
        }
        let rows = try await executor.read(SQLStatement("SELECT *, \(key) AS sort_key FROM task_runs"
            + Self.whereClause(conditions) + " ORDER BY \(key) \(order), id ASC LIMIT \(query.limit + 1)", values))
            .map { (Self.taskRun($0), $0.double("sort_key")) }
        let page = Self.page(rows, limit: query.limit) { Cursor(key: $0.1, id: $0.0.id) }
        return Page(items: page.items.map(\.0), nextCursor: page.nextCursor)
    }

    public func taskRunStates(id: String) async throws -> [StateRecord] {
        try await executor.read(SQLStatement("""
            SELECT state, attempt, time, error FROM task_run_states WHERE task_run_id = ? ORDER BY epoch, sequence
            """, [id])).map(Self.state)
    }

    public func logs(_ query: LogQuery) async throws -> [LogRecord] {
        var conditions = ["flow_run_id = ?", "position > ?"], values: [any SQLBindable] = [query.flowRunID, query.after]
        if let taskRunID = query.taskRunID {
            conditions.append("task_run_id = ?")
            values.append(taskRunID)
        }
        if !query.levels.isEmpty {
            conditions.append("level IN (\(query.levels.map { _ in "?" }.joined(separator: ", ")))")
            values += query.levels
        }
        return try await executor.read(SQLStatement("SELECT * FROM logs" + Self.whereClause(conditions)
            + " ORDER BY position LIMIT \(query.limit)", values)).map { row in
            LogRecord(position: Int64(row.int("position")), flowRunID: row.string("flow_run_id"),
                      taskRunID: row.optionalString("task_run_id"), taskName: row.optionalString("task_name"),
                      worker: row.optionalString("worker"), level: row.string("level"),
                      message: row.string("message"), time: row.double("time"))
        }
    }

    public func countsByState() async throws -> (flowRuns: [String: Int], taskRuns: [String: Int]) {
        func counts(_ table: String) async throws -> [String: Int] {
            var counts: [String: Int] = [:]
            for row in try await executor.read(SQLStatement("SELECT state, count(*) AS n FROM \(table) GROUP BY state")) {
                counts[row.string("state")] = row.int("n")
            }
            return counts
        }
        return (try await counts("flow_runs"), try await counts("task_runs"))
    }

    public func deleteRuns(endedBefore time: Double) async throws -> Int {
        let finished = "SELECT id FROM flow_runs WHERE ended_at IS NOT NULL AND ended_at < ?"
        let count = try await executor.read(SQLStatement(
            "SELECT count(*) AS n FROM flow_runs WHERE ended_at IS NOT NULL AND ended_at < ?", [time])).first?.int("n") ?? 0
        guard count > 0 else { return 0 }
        try await executor.write([
            SQLStatement("DELETE FROM logs WHERE flow_run_id IN (\(finished))", [time]),
            SQLStatement("DELETE FROM artifacts WHERE flow_run_id IN (\(finished))", [time]),
            SQLStatement("""
                DELETE FROM task_run_states WHERE task_run_id IN
                    (SELECT id FROM task_runs WHERE flow_run_id IN (\(finished)))
                """, [time]),
            SQLStatement("DELETE FROM task_runs WHERE flow_run_id IN (\(finished))", [time]),
            SQLStatement("DELETE FROM flow_run_states WHERE flow_run_id IN (\(finished))", [time]),
            SQLStatement("DELETE FROM scheduled_runs WHERE flow_run_id IN (\(finished))", [time]),
            SQLStatement("DELETE FROM flow_runs WHERE ended_at IS NOT NULL AND ended_at < ?", [time]),
        ])
        return count
    }

    public func reset() async throws {
        try await executor.write(["logs", "artifacts", "task_run_states", "task_runs", "flow_run_states", "flow_runs", "processes",
                                "scheduled_runs", "deployments", "scheduler_ticks"]
            .map { SQLStatement("DELETE FROM \($0)") })
    }

    public func taskRunCounts(flowRunIDs: [String]) async throws -> [String: [String: Int]] {
        guard !flowRunIDs.isEmpty else { return [:] }
        var counts: [String: [String: Int]] = [:]
        for row in try await executor.read(SQLStatement("""
            SELECT flow_run_id, state, count(*) AS n FROM task_runs
            WHERE flow_run_id IN (\(flowRunIDs.map { _ in "?" }.joined(separator: ", "))) GROUP BY flow_run_id, state
            """, flowRunIDs)) {
            counts[row.string("flow_run_id"), default: [:]][row.string("state")] = row.int("n")
        }
        return counts
    }

    public func flowRunActivity(since: Double, bucket: Double) async throws -> [ActivityCount] {
        let slice = executor.dialect.wholeSlices("created_at - ?", "?")
        return try await executor.read(SQLStatement("""
            SELECT \(slice) AS bucket, state, count(*) AS n FROM flow_runs WHERE created_at >= ?
            GROUP BY 1, state ORDER BY 1
            """, [since, bucket, since])).map { ActivityCount(bucket: $0.int("bucket"), state: $0.string("state"), count: $0.int("n")) }
    }

    public func timeline(flowRunID: String, lane: Timeline.Lane) async throws -> Timeline {
        let column = lane == .worker ? "coalesce(worker, '(not started)')" : "task_name"
        let span = try await executor.read(SQLStatement("""
            SELECT count(*) AS n, min(started_at) AS first, max(coalesce(ended_at, started_at)) AS last
            FROM task_runs WHERE flow_run_id = ? AND started_at IS NOT NULL
            """, [flowRunID])).first
        let count = span?.int("n") ?? 0
        guard count > 0, let start = span?.optionalDouble("first") else {
            return Timeline(start: 0, end: 0, slice: 0, taskRuns: 0, aggregated: false, lanes: [])
        }
        let end = max(span?.optionalDouble("last") ?? start, start + 0.001)
        if count <= Timeline.maxBars {
            var lanes: [String: [Timeline.Bar]] = [:]
            for row in try await executor.read(SQLStatement("""
                SELECT id, \(column) AS lane, coalesce(run_name, task_name) AS name, state, started_at, ended_at, wait_for
                FROM task_runs WHERE flow_run_id = ? AND started_at IS NOT NULL ORDER BY started_at
                """, [flowRunID])) {
                lanes[row.string("lane"), default: []].append(Timeline.Bar(
                    id: row.string("id"), name: row.string("name"), state: row.string("state"),
                    start: row.double("started_at"), end: row.optionalDouble("ended_at"),
                    waitFor: row.optionalString("wait_for").map { $0.split(separator: ",").map(String.init) }))
            }
            var laneData = lanes.keys.sorted().map { Timeline.LaneData(name: $0, bars: lanes[$0], counts: nil) }
            // Its subflows, as bars of their own lane.
            let subflows = try await executor.read(SQLStatement("""
                SELECT id, flow_name, state, started_at, ended_at FROM flow_runs
                WHERE parent_flow_run_id = ? AND started_at IS NOT NULL ORDER BY started_at LIMIT \(Timeline.maxBars)
                """, [flowRunID])).map { row in
                Timeline.Bar(id: row.string("id"), name: row.string("flow_name"), state: row.string("state"),
                             start: row.double("started_at"), end: row.optionalDouble("ended_at"), waitFor: nil)
            }
            if !subflows.isEmpty { laneData.append(Timeline.LaneData(name: "subflows", bars: subflows, counts: nil)) }
            return Timeline(start: min(start, subflows.map(\.start).min() ?? start),
                            end: max(end, subflows.compactMap(\.end).max() ?? end), slice: 0, taskRuns: count,
                            aggregated: false, lanes: laneData)
        }
        let slice = (end - start) / Double(Timeline.slices)
        var lanes: [String: [Int]] = [:]
        for row in try await executor.read(SQLStatement("""
            SELECT \(column) AS lane, \(executor.dialect.wholeSlices("started_at - ?", "?")) AS slice, count(*) AS n
            FROM task_runs WHERE flow_run_id = ? AND started_at IS NOT NULL GROUP BY 1, 2
            """, [start, slice, flowRunID])) {
            let index = min(max(row.int("slice"), 0), Timeline.slices - 1)
            lanes[row.string("lane"), default: Array(repeating: 0, count: Timeline.slices)][index] += row.int("n")
        }
        return Timeline(start: start, end: end, slice: slice, taskRuns: count, aggregated: true,
                        lanes: lanes.keys.sorted().map { Timeline.LaneData(name: $0, bars: nil, counts: lanes[$0]) })
    }

    public func artifacts(_ query: ArtifactQuery) async throws -> Page<ArtifactRecord> {
        var conditions: [String] = [], values: [any SQLBindable] = []
        if let flowRunID = query.flowRunID {
            conditions.append("flow_run_id = ?")
            values.append(flowRunID)
        }
        if let key = query.key {
            conditions.append("key = ?")
            values.append(key)
        } else if query.latestPerKey {
            // The newest of each key: no artifact of the same key after it.
            conditions.append("""
                key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM artifacts AS later WHERE later.key = artifacts.key
                    AND (later.created_at > artifacts.created_at
                         OR (later.created_at = artifacts.created_at AND later.id > artifacts.id)))
                """)
        }
        try Self.newestFirst(after: query.cursor, &conditions, &values)
        let decoder = JSONDecoder()
        let rows = try await executor.read(SQLStatement("SELECT * FROM artifacts" + Self.whereClause(conditions)
            + " ORDER BY created_at DESC, id DESC LIMIT \(query.limit + 1)", values)).compactMap { row -> ArtifactRecord? in
            guard let artifact = try? decoder.decode(Artifact.self, from: Data(row.string("data").utf8)) else { return nil }
            return ArtifactRecord(id: row.string("id"), key: row.optionalString("key"), flowRunID: row.string("flow_run_id"),
                                  taskRunID: row.optionalString("task_run_id"),
                                  description: row.optionalString("description"), artifact: artifact,
                                  createdAt: row.double("created_at"))
        }
        let page = Self.page(rows, limit: query.limit) { Cursor(key: $0.createdAt, id: $0.id) }
        return Page(items: page.items, nextCursor: page.nextCursor)
    }

    /// Rows after a page's cursor, in a newest-first (created_at, id) order.
    private static func newestFirst(after text: String?, _ conditions: inout [String], _ values: inout [any SQLBindable])
        throws {
        guard let text else { return }
        let cursor = try Cursor(text)
        conditions.append("(created_at < ? OR (created_at = ? AND id < ?))")
        values += [cursor.key, cursor.key, cursor.id] as [any SQLBindable]
    }

    private static func whereClause(_ conditions: [String]) -> String {
        conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
    }

    /// The first `limit` rows, and a cursor after the last of them if there were more.
    private static func page<Item>(_ rows: [Item], limit: Int, cursor: (Item) -> Cursor)
        -> (items: [Item], nextCursor: String?) {
        let items = Array(rows.prefix(limit))
        return (items, rows.count > limit ? items.last.map { cursor($0).text } : nil)
    }

    static func flowRun(_ row: SQLRow) -> FlowRunRecord {
        FlowRunRecord(id: row.string("id"), flowName: row.string("flow_name"),
                      parentFlowRunID: row.optionalString("parent_flow_run_id"), state: row.string("state"),
                      attempt: row.optionalInt("attempt"), workQueue: row.optionalString("work_queue"),
                      agent: row.optionalString("agent"), epoch: row.int("epoch"), createdAt: row.double("created_at"),
                      startedAt: row.optionalDouble("started_at"), endedAt: row.optionalDouble("ended_at"),
                      error: row.optionalString("error"), parameters: row.optionalString("parameters"),
                      result: row.optionalString("result"), deploymentID: row.optionalString("deployment_id"))
    }

    private static func taskRun(_ row: SQLRow) -> TaskRunRecord {
        TaskRunRecord(id: row.string("id"), flowRunID: row.string("flow_run_id"), taskName: row.string("task_name"),
                      runName: row.optionalString("run_name"), state: row.string("state"), attempt: row.int("attempt"),
                      worker: row.optionalString("worker"), epoch: row.int("epoch"),
                      createdAt: row.double("created_at"), startedAt: row.optionalDouble("started_at"),
                      endedAt: row.optionalDouble("ended_at"), error: row.optionalString("error"))
    }

    private static func state(_ row: SQLRow) -> StateRecord {
        StateRecord(state: row.string("state"), attempt: row.optionalInt("attempt"), time: row.double("time"),
                    error: row.optionalString("error"))
    }
}

extension SQLRow {
    func string(_ column: String) -> String { self[column]?.string ?? "" }
    func optionalString(_ column: String) -> String? { self[column]?.string }
    func int(_ column: String) -> Int { self[column]?.int ?? 0 }
    func optionalInt(_ column: String) -> Int? { self[column]?.int }
    func double(_ column: String) -> Double { self[column]?.double ?? 0 }
    func optionalDouble(_ column: String) -> Double? { self[column]?.double }
}

/// One run's events of a batch merged into the row they make: the newest (epoch, sequence) sets
/// its state, the earliest time its creation, the first Running its start.
struct MergedRun {
    var newest: RunEvent
    var createdAt: Double
    var startedAt: Double?
    var worker: String?
    var workQueue: String?
    var agent: String?
    var parent: String?
    var runName: String?
    var parameters: String?
    var result: String?
    var waitFor: [String]?

    init(_ event: RunEvent) {
        newest = event
        createdAt = event.time
    }

    mutating func merge(_ event: RunEvent) {
        let isNewer = (event.epoch, event.sequence) >= (newest.epoch, newest.sequence)
        if isNewer { newest = event }
        createdAt = min(createdAt, event.time)
        if event.state == "Running" { startedAt = min(startedAt ?? event.time, event.time) }
        if let started = event.startedAt { startedAt = min(startedAt ?? started, started) }
        if let value = event.worker, isNewer || worker == nil { worker = value }
        if let value = event.workQueue, isNewer || workQueue == nil { workQueue = value }
        if let value = event.agent, isNewer || agent == nil { agent = value }
        if let value = event.runName, isNewer || runName == nil { runName = value }
        if parent == nil { parent = event.parentFlowRunID }
        if parameters == nil { parameters = event.parameters }
        if waitFor == nil { waitFor = event.waitFor }
        if let value = event.result, isNewer || result == nil { result = value }
    }

    private var ended: Double? {
        newest.state.map { Schema.finalStates.contains($0) } == true ? newest.time : nil
    }

    var flowRunRow: [any SQLBindable] {
        [newest.flowRunID, newest.name, parent, newest.state ?? "Pending", newest.attempt, workQueue, agent,
         newest.epoch, newest.sequence, createdAt, startedAt, ended, newest.error, parameters, result]
    }

    var taskRunRow: [any SQLBindable] {
        [newest.taskRunID ?? "", newest.flowRunID, newest.name, runName, newest.state ?? "Pending", newest.attempt ?? 0,
         worker, newest.epoch, newest.sequence, createdAt, startedAt, ended, newest.error,
         waitFor?.joined(separator: ",")]
    }
}
