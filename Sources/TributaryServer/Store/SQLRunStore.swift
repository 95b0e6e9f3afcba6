import Foundation
import Tributary

/// The run store over SQL: one schema and one set of queries, run by an ``SQLExecutor`` on SQLite
/// (``SQLiteRunStore``) or PostgreSQL (``PostgresRunStore``).
protocol SQLRunStore: RunStore {
    var executor: any SQLExecutor { get }
}

extension SQLRunStore {
    public func record(_ events: [RunEvent], heartbeats: [Heartbeat]) async throws {
        guard !events.isEmpty || !heartbeats.isEmpty else { return }
        let dialect = executor.dialect
        var statements: [SQLStatement] = []
        statements.reserveCapacity(events.count * 2 + heartbeats.count)
        for event in events { statements += Self.statements(recording: event, dialect) }
        for beat in heartbeats {
            statements.append(SQLStatement(Schema.upsertProcess, [
                beat.id, beat.kind.rawValue, beat.host, Int(beat.pid), beat.queues.joined(separator: ","),
                beat.concurrency, beat.running, beat.completed, beat.failed, beat.startedAt, beat.time,
                beat.interval, beat.sequence, beat.stopped,
            ]))
        }
        try await executor.write(statements)
    }

    private static func statements(recording event: RunEvent, _ dialect: SQLDialect) -> [SQLStatement] {
        let final = event.state.map { Schema.finalStates.contains($0) } ?? false
        let started: Double? = event.state == "Running" ? event.time : nil
        let ended: Double? = final ? event.time : nil
        let state = event.state ?? "Pending"
        switch event.kind {
        case .flowRun:
            return [
                SQLStatement(Schema.upsertFlowRun(dialect), [
                    event.flowRunID, event.name, event.parentFlowRunID, state, event.attempt, event.workQueue,
                    event.agent, event.epoch, event.sequence, event.time, started, ended, event.error,
                ]),
                SQLStatement(Schema.insertFlowRunState, [
                    event.flowRunID, event.epoch, event.sequence, state, event.attempt, event.time, event.error,
                ]),
            ]
        case .taskRun:
            guard let taskRunID = event.taskRunID else { return [] }
            return [
                SQLStatement(Schema.upsertTaskRun(dialect), [
                    taskRunID, event.flowRunID, event.name, event.runName, state, event.attempt ?? 0, event.worker,
                    event.epoch, event.sequence, event.time, started, ended, event.error,
                ]),
                SQLStatement(Schema.insertTaskRunState, [
                    taskRunID, event.epoch, event.sequence, state, event.attempt, event.time, event.error,
                ]),
            ]
        case .log:
            return [SQLStatement(Schema.insertLog, [
                event.id, event.flowRunID, event.taskRunID, event.taskRunID == nil ? nil : event.name, event.worker,
                event.level ?? "info", event.message ?? "", event.time,
            ])]
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
        if let text = query.cursor {
            let cursor = try Cursor(text)
            conditions.append("(created_at < ? OR (created_at = ? AND id < ?))")
            values += [cursor.key, cursor.key, cursor.id] as [any SQLBindable]
        }
        let rows = try await executor.read(SQLStatement("SELECT * FROM flow_runs" + Self.whereClause(conditions)
            + " ORDER BY created_at DESC, id DESC LIMIT \(query.limit + 1)", values)).map(Self.flowRun)
        let page = Self.page(rows, limit: query.limit) { Cursor(key: $0.createdAt, id: $0.id) }
        return Page(items: page.items, nextCursor: page.nextCursor)
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
            SQLStatement("""
                DELETE FROM task_run_states WHERE task_run_id IN
                    (SELECT id FROM task_runs WHERE flow_run_id IN (\(finished)))
                """, [time]),
            SQLStatement("DELETE FROM task_runs WHERE flow_run_id IN (\(finished))", [time]),
            SQLStatement("DELETE FROM flow_run_states WHERE flow_run_id IN (\(finished))", [time]),
            SQLStatement("DELETE FROM flow_runs WHERE ended_at IS NOT NULL AND ended_at < ?", [time]),
        ])
        return count
    }

    public func reset() async throws {
        try await executor.write(["logs", "task_run_states", "task_runs", "flow_run_states", "flow_runs", "processes"]
            .map { SQLStatement("DELETE FROM \($0)") })
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

    private static func flowRun(_ row: SQLRow) -> FlowRunRecord {
        FlowRunRecord(id: row.string("id"), flowName: row.string("flow_name"),
                      parentFlowRunID: row.optionalString("parent_flow_run_id"), state: row.string("state"),
                      attempt: row.optionalInt("attempt"), workQueue: row.optionalString("work_queue"),
                      agent: row.optionalString("agent"), epoch: row.int("epoch"), createdAt: row.double("created_at"),
                      startedAt: row.optionalDouble("started_at"), endedAt: row.optionalDouble("ended_at"),
                      error: row.optionalString("error"))
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
