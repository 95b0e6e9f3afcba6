import Foundation
import GRDB
import Tributary

/// The run store in one SQLite file (WAL: readers never wait for the writer, nor it for them).
public final class SQLiteRunStore: RunStore {
    private let pool: DatabasePool
    public let path: String

    /// Opens (creating it and its folder if need be) the store at `path` and brings its schema up to date.
    public init(path: String) throws {
        self.path = path
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        var configuration = GRDB.Configuration()
        // A writer waits for another (a second server on the same file) rather than failing at once.
        configuration.busyMode = .timeout(30)
        pool = try DatabasePool(path: path, configuration: configuration)
        var migrator = DatabaseMigrator()
        for migration in Schema.migrations {
            migrator.registerMigration(migration.name) { db in try db.execute(sql: migration.sql) }
        }
        try migrator.migrate(pool)
    }

    public func record(_ events: [RunEvent], heartbeats: [Heartbeat]) async throws {
        guard !events.isEmpty || !heartbeats.isEmpty else { return }
        try await pool.write { db in
            for event in events {
                try Self.record(event, in: db)
            }
            for beat in heartbeats {
                try db.cachedStatement(sql: Schema.upsertProcess).execute(arguments: [
                    beat.id, beat.kind.rawValue, beat.host, Int(beat.pid), beat.queues.joined(separator: ","),
                    beat.concurrency, beat.running, beat.completed, beat.failed, beat.startedAt, beat.time,
                    beat.interval, beat.sequence, beat.stopped,
                ])
            }
        }
    }

    public func processes(_ kind: Heartbeat.Kind) async throws -> [ProcessRecord] {
        let now = Date().timeIntervalSince1970
        return try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM processes WHERE kind = ? ORDER BY id",
                             arguments: [kind.rawValue]).map { row in
                let lastSeen: Double = row["last_seen"], interval: Double = row["interval"], stopped: Bool = row["stopped"]
                let queues: String = row["queues"]
                return ProcessRecord(id: row["id"], kind: row["kind"], host: row["host"], pid: row["pid"],
                                     queues: queues.split(separator: ",").map(String.init),
                                     concurrency: row["concurrency"], running: row["running"],
                                     completed: row["completed"], failed: row["failed"], startedAt: row["started_at"],
                                     lastSeen: lastSeen, interval: interval, stopped: stopped,
                                     alive: !stopped && now - lastSeen < 3 * interval)
            }
        }
    }

    private static func record(_ event: RunEvent, in db: Database) throws {
        let final = event.state.map { Schema.finalStates.contains($0) } ?? false
        let started: Double? = event.state == "Running" ? event.time : nil
        let ended: Double? = final ? event.time : nil
        switch event.kind {
        case .flowRun:
            try db.cachedStatement(sql: Schema.upsertFlowRun).execute(arguments: [
                event.flowRunID, event.name, event.parentFlowRunID, event.state ?? "Pending", event.attempt,
                event.workQueue, event.agent, event.epoch, event.sequence, event.time, started, ended, event.error,
            ])
            try db.cachedStatement(sql: Schema.insertFlowRunState).execute(arguments: [
                event.flowRunID, event.epoch, event.sequence, event.state ?? "Pending", event.attempt, event.time,
                event.error,
            ])
        case .taskRun:
            guard let taskRunID = event.taskRunID else { return }
            try db.cachedStatement(sql: Schema.upsertTaskRun).execute(arguments: [
                taskRunID, event.flowRunID, event.name, event.runName, event.state ?? "Pending", event.attempt ?? 0,
                event.worker, event.epoch, event.sequence, event.time, started, ended, event.error,
            ])
            try db.cachedStatement(sql: Schema.insertTaskRunState).execute(arguments: [
                taskRunID, event.epoch, event.sequence, event.state ?? "Pending", event.attempt, event.time, event.error,
            ])
        case .log:
            try db.cachedStatement(sql: Schema.insertLog).execute(arguments: [
                event.id, event.flowRunID, event.taskRunID, event.taskRunID == nil ? nil : event.name, event.worker,
                event.level ?? "info", event.message ?? "", event.time,
            ])
        }
    }

    public func flowRuns(_ query: FlowRunQuery) async throws -> Page<FlowRunRecord> {
        var conditions: [String] = [], arguments: [(any DatabaseValueConvertible)?] = []
        if !query.states.isEmpty {
            conditions.append("state IN (\(query.states.map { _ in "?" }.joined(separator: ", ")))")
            arguments += query.states
        }
        for (column, value) in [("flow_name", query.flowName), ("work_queue", query.workQueue),
                                ("parent_flow_run_id", query.parentFlowRunID)] {
            if let value {
                conditions.append("\(column) = ?")
                arguments.append(value)
            }
        }
        if let since = query.since {
            conditions.append("created_at >= ?")
            arguments.append(since)
        }
        if let until = query.until {
            conditions.append("created_at < ?")
            arguments.append(until)
        }
        if let text = query.cursor {
            let cursor = try Cursor(text)
            conditions.append("(created_at < ? OR (created_at = ? AND id < ?))")
            arguments += [cursor.key, cursor.key, cursor.id]
        }
        let sql = "SELECT * FROM flow_runs" + Self.whereClause(conditions)
            + " ORDER BY created_at DESC, id DESC LIMIT \(query.limit + 1)"
        let bound = StatementArguments(arguments)
        let rows = try await pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: bound).map(Self.flowRun)
        }
        let page = Self.page(rows, limit: query.limit) { Cursor(key: $0.createdAt, id: $0.id) }
        return Page(items: page.items, nextCursor: page.nextCursor)
    }

    public func flowRun(id: String) async throws -> FlowRunDetail? {
        try await pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM flow_runs WHERE id = ?", arguments: [id]) else {
                return nil
            }
            var counts: [String: Int] = [:]
            for count in try Row.fetchAll(db, sql: """
                SELECT state, count(*) AS n FROM task_runs WHERE flow_run_id = ? GROUP BY state
                """, arguments: [id]) {
                counts[count["state"]] = count["n"]
            }
            let states = try Row.fetchAll(db, sql: """
                SELECT state, attempt, time, error FROM flow_run_states WHERE flow_run_id = ? ORDER BY epoch, sequence
                """, arguments: [id]).map(Self.state)
            return FlowRunDetail(flowRun: Self.flowRun(row), taskRunCounts: counts, states: states)
        }
    }

    public func taskRuns(_ query: TaskRunQuery) async throws -> Page<TaskRunRecord> {
        var conditions = ["flow_run_id = ?"], arguments: [(any DatabaseValueConvertible)?] = [query.flowRunID]
        if !query.states.isEmpty {
            conditions.append("state IN (\(query.states.map { _ in "?" }.joined(separator: ", ")))")
            arguments += query.states
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
            arguments += [cursor.key, cursor.key, cursor.id]
        }
        let sql = "SELECT *, \(key) AS sort_key FROM task_runs" + Self.whereClause(conditions)
            + " ORDER BY \(key) \(order), id ASC LIMIT \(query.limit + 1)"
        let bound = StatementArguments(arguments)
        let rows = try await pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: bound).map { row in
                (Self.taskRun(row), row["sort_key"] as Double)
            }
        }
        let page = Self.page(rows, limit: query.limit) { Cursor(key: $0.1, id: $0.0.id) }
        return Page(items: page.items.map(\.0), nextCursor: page.nextCursor)
    }

    public func taskRunStates(id: String) async throws -> [StateRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT state, attempt, time, error FROM task_run_states WHERE task_run_id = ? ORDER BY epoch, sequence
                """, arguments: [id]).map(Self.state)
        }
    }

    public func logs(_ query: LogQuery) async throws -> [LogRecord] {
        var conditions = ["flow_run_id = ?", "position > ?"]
        var arguments: [(any DatabaseValueConvertible)?] = [query.flowRunID, query.after]
        if !query.levels.isEmpty {
            conditions.append("level IN (\(query.levels.map { _ in "?" }.joined(separator: ", ")))")
            arguments += query.levels
        }
        let sql = "SELECT * FROM logs" + Self.whereClause(conditions) + " ORDER BY position LIMIT \(query.limit)"
        let bound = StatementArguments(arguments)
        return try await pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: bound).map { row in
                LogRecord(position: row["position"], flowRunID: row["flow_run_id"], taskRunID: row["task_run_id"],
                          taskName: row["task_name"], worker: row["worker"], level: row["level"],
                          message: row["message"], time: row["time"])
            }
        }
    }

    public func countsByState() async throws -> (flowRuns: [String: Int], taskRuns: [String: Int]) {
        try await pool.read { db in
            func counts(_ table: String) throws -> [String: Int] {
                var counts: [String: Int] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT state, count(*) AS n FROM \(table) GROUP BY state") {
                    counts[row["state"]] = row["n"]
                }
                return counts
            }
            return (try counts("flow_runs"), try counts("task_runs"))
        }
    }

    public func deleteRuns(endedBefore time: Double) async throws -> Int {
        try await pool.write { db in
            let finished = "SELECT id FROM flow_runs WHERE ended_at IS NOT NULL AND ended_at < ?"
            try db.execute(sql: "DELETE FROM logs WHERE flow_run_id IN (\(finished))", arguments: [time])
            try db.execute(sql: """
                DELETE FROM task_run_states WHERE task_run_id IN
                    (SELECT id FROM task_runs WHERE flow_run_id IN (\(finished)))
                """, arguments: [time])
            try db.execute(sql: "DELETE FROM task_runs WHERE flow_run_id IN (\(finished))", arguments: [time])
            try db.execute(sql: "DELETE FROM flow_run_states WHERE flow_run_id IN (\(finished))", arguments: [time])
            try db.execute(sql: "DELETE FROM flow_runs WHERE ended_at IS NOT NULL AND ended_at < ?", arguments: [time])
            return db.changesCount
        }
    }

    public func reset() async throws {
        try await pool.write { db in
            for table in ["logs", "task_run_states", "task_runs", "flow_run_states", "flow_runs", "processes"] {
                try db.execute(sql: "DELETE FROM \(table)")
            }
        }
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

    private static func flowRun(_ row: Row) -> FlowRunRecord {
        FlowRunRecord(id: row["id"], flowName: row["flow_name"], parentFlowRunID: row["parent_flow_run_id"],
                      state: row["state"], attempt: row["attempt"], workQueue: row["work_queue"], agent: row["agent"],
                      epoch: row["epoch"], createdAt: row["created_at"], startedAt: row["started_at"],
                      endedAt: row["ended_at"], error: row["error"])
    }

    private static func taskRun(_ row: Row) -> TaskRunRecord {
        TaskRunRecord(id: row["id"], flowRunID: row["flow_run_id"], taskName: row["task_name"],
                      runName: row["run_name"], state: row["state"], attempt: row["attempt"], worker: row["worker"],
                      epoch: row["epoch"], createdAt: row["created_at"], startedAt: row["started_at"],
                      endedAt: row["ended_at"], error: row["error"])
    }

    private static func state(_ row: Row) -> StateRecord {
        StateRecord(state: row["state"], attempt: row["attempt"], time: row["time"], error: row["error"])
    }
}
