/// The store's tables, one migration per step, in order. Times are seconds since 1970 (REAL);
/// a run's `epoch` and `sequence` are those of the event that set its state.
enum Schema {
    static let migrations: [(name: String, sql: String)] = [
        ("1-runs", """
            CREATE TABLE flow_runs (
                id TEXT PRIMARY KEY,
                flow_name TEXT NOT NULL,
                parent_flow_run_id TEXT,
                state TEXT NOT NULL,
                attempt INTEGER,
                work_queue TEXT,
                agent TEXT,
                epoch INTEGER NOT NULL,
                sequence INTEGER NOT NULL,
                created_at REAL NOT NULL,
                started_at REAL,
                ended_at REAL,
                error TEXT
            );
            CREATE INDEX flow_runs_by_created ON flow_runs (created_at, id);
            CREATE INDEX flow_runs_by_state ON flow_runs (state, created_at, id);
            CREATE INDEX flow_runs_by_name ON flow_runs (flow_name, created_at, id);
            CREATE INDEX flow_runs_by_parent ON flow_runs (parent_flow_run_id, created_at, id);
            CREATE INDEX flow_runs_by_end ON flow_runs (ended_at);
            CREATE TABLE flow_run_states (
                flow_run_id TEXT NOT NULL,
                epoch INTEGER NOT NULL,
                sequence INTEGER NOT NULL,
                state TEXT NOT NULL,
                attempt INTEGER,
                time REAL NOT NULL,
                error TEXT,
                PRIMARY KEY (flow_run_id, epoch, sequence)
            );
            CREATE TABLE task_runs (
                id TEXT PRIMARY KEY,
                flow_run_id TEXT NOT NULL,
                task_name TEXT NOT NULL,
                run_name TEXT,
                state TEXT NOT NULL,
                attempt INTEGER NOT NULL,
                worker TEXT,
                epoch INTEGER NOT NULL,
                sequence INTEGER NOT NULL,
                created_at REAL NOT NULL,
                started_at REAL,
                ended_at REAL,
                error TEXT
            );
            CREATE INDEX task_runs_by_start ON task_runs (flow_run_id, coalesce(started_at, created_at), id);
            CREATE INDEX task_runs_by_state ON task_runs (flow_run_id, state);
            CREATE INDEX task_runs_by_duration ON task_runs (flow_run_id, coalesce(ended_at - started_at, -1), id);
            CREATE TABLE task_run_states (
                task_run_id TEXT NOT NULL,
                epoch INTEGER NOT NULL,
                sequence INTEGER NOT NULL,
                state TEXT NOT NULL,
                attempt INTEGER,
                time REAL NOT NULL,
                error TEXT,
                PRIMARY KEY (task_run_id, epoch, sequence)
            );
            CREATE TABLE logs (
                position INTEGER PRIMARY KEY AUTOINCREMENT,
                event_id TEXT NOT NULL UNIQUE,
                flow_run_id TEXT NOT NULL,
                task_run_id TEXT,
                task_name TEXT,
                worker TEXT,
                level TEXT NOT NULL,
                message TEXT NOT NULL,
                time REAL NOT NULL
            );
            CREATE INDEX logs_by_run ON logs (flow_run_id, position);
            """),
        ("2-processes", """
            CREATE TABLE processes (
                id TEXT NOT NULL,
                kind TEXT NOT NULL,
                host TEXT NOT NULL,
                pid INTEGER NOT NULL,
                queues TEXT NOT NULL,
                concurrency INTEGER NOT NULL,
                running INTEGER NOT NULL,
                completed INTEGER NOT NULL,
                failed INTEGER NOT NULL,
                started_at REAL NOT NULL,
                last_seen REAL NOT NULL,
                interval REAL NOT NULL,
                sequence INTEGER NOT NULL,
                stopped INTEGER NOT NULL,
                PRIMARY KEY (kind, id)
            );
            """),
        // A worker's task durations (a ``AttemptDurations`` as JSON); artifacts that runs publish
        // (the UI); deployments, the flows a schedule or trigger submits, and the runs they made.
        ("3-durations-artifacts-deployments", """
            ALTER TABLE processes ADD COLUMN durations TEXT;
            CREATE TABLE artifacts (
                id TEXT PRIMARY KEY,
                key TEXT,
                kind TEXT NOT NULL,
                flow_run_id TEXT NOT NULL,
                task_run_id TEXT,
                description TEXT,
                data TEXT NOT NULL,
                created_at REAL NOT NULL
            );
            CREATE INDEX artifacts_by_key ON artifacts (key, created_at);
            CREATE INDEX artifacts_by_run ON artifacts (flow_run_id, created_at);
            CREATE TABLE deployments (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                flow_name TEXT NOT NULL,
                work_queue TEXT NOT NULL,
                parameters TEXT NOT NULL,
                schedule TEXT,
                paused INTEGER NOT NULL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL
            );
            ALTER TABLE flow_runs ADD COLUMN deployment_id TEXT;
            CREATE INDEX flow_runs_by_deployment ON flow_runs (deployment_id, created_at, id);
            """),
        // A flow run's input and output as JSON text (a note of the size past 16 KiB); the task
        // runs a task run waits for (ids, comma-separated).
        ("4-parameters-and-dependencies", """
            ALTER TABLE flow_runs ADD COLUMN parameters TEXT;
            ALTER TABLE flow_runs ADD COLUMN result TEXT;
            ALTER TABLE task_runs ADD COLUMN wait_for TEXT;
            """),
        // Deployments in full (`schedule` and `triggers` hold theirs as JSON arrays); the runs the
        // scheduler made for them, each once: its flow-run id comes from (deployment, time), and a
        // server pushes it onto its work queue only after claiming the row (status waiting →
        // claimed → submitted → settled, or skipped). `scheduler_ticks` says when a scheduler last
        // ran, so a restarted one knows which runs fell due while none did.
        ("5-deployments-and-schedules", """
            ALTER TABLE deployments ADD COLUMN description TEXT;
            ALTER TABLE deployments ADD COLUMN tags TEXT;
            ALTER TABLE deployments ADD COLUMN run_limit INTEGER;
            ALTER TABLE deployments ADD COLUMN catchup TEXT;
            ALTER TABLE deployments ADD COLUMN scheduled_through REAL;
            ALTER TABLE deployments ADD COLUMN triggers TEXT;
            CREATE TABLE scheduled_runs (
                flow_run_id TEXT PRIMARY KEY,
                deployment_id TEXT NOT NULL,
                scheduled_at REAL NOT NULL,
                parameters TEXT NOT NULL,
                origin TEXT NOT NULL,
                status TEXT NOT NULL,
                claimed_by TEXT,
                claimed_at REAL,
                submitted_at REAL
            );
            CREATE INDEX scheduled_runs_due ON scheduled_runs (status, scheduled_at);
            CREATE INDEX scheduled_runs_by_deployment ON scheduled_runs (deployment_id, scheduled_at);
            CREATE TABLE scheduler_ticks (
                id TEXT PRIMARY KEY,
                time REAL NOT NULL
            );
            """),
        // The flow runs a worker or agent works for, at its last heartbeat (ids, comma-separated).
        ("6-processes-flow-runs", """
            ALTER TABLE processes ADD COLUMN flow_runs TEXT;
            """),
    ]

    /// Whether the event that set a run's state (`run`) is older than `excluded`'s.
    static func newer(_ table: String) -> String {
        "(excluded.epoch > \(table).epoch OR (excluded.epoch = \(table).epoch AND excluded.sequence > \(table).sequence))"
    }

    /// `column` takes the new row's value if it is newer, else keeps its own.
    static func ifNewer(_ table: String, _ column: String) -> String {
        "\(column) = CASE WHEN \(newer(table)) THEN excluded.\(column) ELSE \(table).\(column) END"
    }

    /// What a flow run's and a task run's upsert share: the earliest creation, the first start,
    /// and the state with its attempt, end, error, epoch and sequence from the newer of the two.
    static func runUpdate(_ table: String, _ dialect: SQLDialect) -> String {
        """
        created_at = \(dialect.least)(\(table).created_at, excluded.created_at),
            started_at = \(dialect.least)(coalesce(\(table).started_at, excluded.started_at),
                             coalesce(excluded.started_at, \(table).started_at)),
            \(["state", "attempt", "ended_at", "error", "epoch", "sequence"].map { ifNewer(table, $0) }
                .joined(separator: ", "))
        """
    }

    /// `rows` groups of `columns` placeholders: `(?, ?), (?, ?)`.
    static func values(columns: Int, rows: Int) -> String {
        let row = "(" + Array(repeating: "?", count: columns).joined(separator: ", ") + ")"
        return Array(repeating: row, count: rows).joined(separator: ", ")
    }

    /// Upserts `rows` flow runs (distinct ids) at once.
    static func upsertFlowRuns(_ dialect: SQLDialect, rows: Int) -> String { """
        INSERT INTO flow_runs (id, flow_name, parent_flow_run_id, state, attempt, work_queue, agent, epoch, sequence,
                               created_at, started_at, ended_at, error, parameters, result)
        VALUES \(values(columns: 15, rows: rows))
        ON CONFLICT (id) DO UPDATE SET
            \(runUpdate("flow_runs", dialect)),
            parameters = coalesce(flow_runs.parameters, excluded.parameters),
            result = coalesce(excluded.result, flow_runs.result),
            parent_flow_run_id = coalesce(flow_runs.parent_flow_run_id, excluded.parent_flow_run_id),
            work_queue = coalesce(excluded.work_queue, flow_runs.work_queue),
            agent = coalesce(excluded.agent, flow_runs.agent)
        """
    }

    /// Upserts `rows` task runs (distinct ids) at once.
    static func upsertTaskRuns(_ dialect: SQLDialect, rows: Int) -> String { """
        INSERT INTO task_runs (id, flow_run_id, task_name, run_name, state, attempt, worker, epoch, sequence,
                               created_at, started_at, ended_at, error, wait_for)
        VALUES \(values(columns: 14, rows: rows))
        ON CONFLICT (id) DO UPDATE SET
            \(runUpdate("task_runs", dialect)),
            wait_for = coalesce(task_runs.wait_for, excluded.wait_for),
            worker = CASE WHEN \(newer("task_runs")) THEN coalesce(excluded.worker, task_runs.worker)
                          ELSE coalesce(task_runs.worker, excluded.worker) END
        """
    }

    static func insertStates(of table: String, rows: Int) -> String { """
        INSERT INTO \(table == "flow_runs" ? "flow_run_states (flow_run_id" : "task_run_states (task_run_id"), epoch, sequence,
            state, attempt, time, error)
        VALUES \(values(columns: 7, rows: rows)) ON CONFLICT DO NOTHING
        """
    }

    static func insertLogs(rows: Int) -> String { """
        INSERT INTO logs (event_id, flow_run_id, task_run_id, task_name, worker, level, message, time)
        VALUES \(values(columns: 8, rows: rows)) ON CONFLICT DO NOTHING
        """
    }

    static func insertArtifacts(rows: Int) -> String { """
        INSERT INTO artifacts (id, key, kind, flow_run_id, task_run_id, description, data, created_at)
        VALUES \(values(columns: 8, rows: rows)) ON CONFLICT DO NOTHING
        """
    }

    /// A worker's or agent's latest heartbeat: a heartbeat of a later start of the same id, or a
    /// later one of the same start, replaces what is there.
    static let upsertProcess = """
        INSERT INTO processes (id, kind, host, pid, queues, concurrency, running, completed, failed, durations,
                               flow_runs, started_at, last_seen, interval, sequence, stopped)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (kind, id) DO UPDATE SET
            host = excluded.host, pid = excluded.pid, queues = excluded.queues, concurrency = excluded.concurrency,
            running = excluded.running, completed = excluded.completed, failed = excluded.failed,
            durations = excluded.durations, flow_runs = excluded.flow_runs,
            started_at = excluded.started_at, last_seen = excluded.last_seen, interval = excluded.interval,
            sequence = excluded.sequence, stopped = excluded.stopped
        WHERE excluded.started_at > processes.started_at
            OR (excluded.started_at = processes.started_at AND excluded.sequence > processes.sequence)
        """

    /// The states a run does not leave.
    static let finalStates = ["Completed", "Cached", "Failed", "Crashed", "Cancelled", "TimedOut"]
}
