import Foundation
import Tributary

/// Deployments and their scheduled runs, in the same database as the runs (schema migration 5).
extension SQLRunStore {
    public func saveDeployment(_ spec: DeploymentSpec, at time: Double) async throws -> Deployment {
        try spec.validate()
        let existing = try await deployment(named: spec.name)
        // Saving what is there already changes nothing (applying tributary.yaml again keeps its runs).
        if let existing, existing.isSame(as: spec) { return existing }
        let id = existing?.id ?? UUID().uuidString.lowercased()
        let schedules = try Self.json(spec.schedules ?? []), tags = try Self.json(spec.tags ?? [])
        let parameters = try Self.json(spec.parameters ?? .object([:]))
        let paused = spec.paused ?? existing?.paused ?? false
        try await executor.write(Self.dropWaitingRuns(deploymentID: id, origin: "schedule") + [
            SQLStatement("""
                INSERT INTO deployments (id, name, flow_name, work_queue, parameters, schedule, paused, created_at,
                                         updated_at, description, tags, run_limit, catchup, scheduled_through, triggers)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET
                    flow_name = excluded.flow_name, work_queue = excluded.work_queue,
                    parameters = excluded.parameters, schedule = excluded.schedule, paused = excluded.paused,
                    updated_at = excluded.updated_at, description = excluded.description, tags = excluded.tags,
                    run_limit = excluded.run_limit, catchup = excluded.catchup,
                    scheduled_through = excluded.scheduled_through, triggers = excluded.triggers
                """, [id, spec.name, spec.flow, spec.workQueue ?? "default", parameters, schedules, paused, time, time,
                      spec.description, tags, spec.runLimit, (spec.catchup ?? .latest).rawValue, time,
                      try Self.json(spec.triggers ?? [])]),
        ])
        guard let saved = try await deployment(named: spec.name) else { throw BadQuery("deployment '\(spec.name)' was not saved") }
        return saved
    }

    public func deployments() async throws -> [Deployment] {
        try await executor.read(SQLStatement("SELECT * FROM deployments ORDER BY name")).map(Self.deployment)
    }

    public func deployments(ids: [String]) async throws -> [Deployment] {
        guard !ids.isEmpty else { return [] }
        let list = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        return try await executor.read(SQLStatement("SELECT * FROM deployments WHERE id IN (\(list)) ORDER BY name", ids))
            .map(Self.deployment)
    }

    public func deploymentVersions() async throws -> [DeploymentVersion] {
        try await executor.read(SQLStatement("SELECT id, updated_at, scheduled_through FROM deployments ORDER BY name")).map {
            DeploymentVersion(id: $0.string("id"), updatedAt: $0.double("updated_at"),
                              scheduledThrough: $0["scheduled_through"]?.double)
        }
    }

    public func deployment(named name: String) async throws -> Deployment? {
        try await executor.read(SQLStatement("SELECT * FROM deployments WHERE name = ?", [name])).first.map(Self.deployment)
    }

    public func setPaused(_ paused: Bool, deployment name: String, backfill: Bool, at time: Double) async throws
        -> Deployment? {
        guard let deployment = try await deployment(named: name) else { return nil }
        var statements: [SQLStatement] = []
        if paused {
            statements += Self.dropWaitingRuns(deploymentID: deployment.id, origin: "schedule")
            // Made runs are dropped, so a resume that back-fills starts from now, not from where they ended.
            statements.append(SQLStatement("""
                UPDATE deployments SET paused = 1, updated_at = ?, scheduled_through = \(executor.dialect.least)(coalesce(scheduled_through, ?), ?)
                WHERE id = ?
                """, [time, time, time, deployment.id]))
        } else if deployment.paused {
            let through = backfill ? deployment.scheduledThrough ?? time : time
            statements.append(SQLStatement("UPDATE deployments SET paused = 0, updated_at = ?, scheduled_through = ? WHERE id = ?",
                                           [time, through, deployment.id]))
        }
        try await executor.write(statements)
        return try await self.deployment(named: name)
    }

    public func deleteDeployment(named name: String) async throws -> Bool {
        guard let deployment = try await deployment(named: name) else { return false }
        try await executor.write(Self.dropWaitingRuns(deploymentID: deployment.id, origin: nil) + [
            SQLStatement("DELETE FROM deployments WHERE id = ?", [deployment.id]),
        ])
        return true
    }

    public func scheduledRuns(deploymentID: String, upcoming: Bool, limit: Int) async throws -> [ScheduledRun] {
        let condition = upcoming ? "AND s.status IN ('waiting', 'claimed')" : "AND s.status NOT IN ('waiting', 'claimed')"
        return try await executor.read(SQLStatement("""
            SELECT s.*, d.name AS deployment, f.state AS state FROM scheduled_runs s
            LEFT JOIN deployments d ON d.id = s.deployment_id LEFT JOIN flow_runs f ON f.id = s.flow_run_id
            WHERE s.deployment_id = ? \(condition)
            ORDER BY s.scheduled_at \(upcoming ? "ASC" : "DESC") LIMIT ?
            """, [deploymentID, limit])).map(Self.scheduledRun)
    }

    public func upcomingRuns(workQueue: String?, limit: Int) async throws -> [ScheduledRun] {
        try await executor.read(SQLStatement("""
            SELECT s.*, d.name AS deployment, f.state AS state FROM scheduled_runs s
            JOIN deployments d ON d.id = s.deployment_id LEFT JOIN flow_runs f ON f.id = s.flow_run_id
            WHERE s.status IN ('waiting', 'claimed') \(workQueue == nil ? "" : "AND d.work_queue = ?")
            ORDER BY s.scheduled_at LIMIT ?
            """, (workQueue.map { [$0] } ?? []) + [limit])).map(Self.scheduledRun)
    }

    public func upcomingCounts() async throws -> [String: Int] {
        let rows = try await executor.read(SQLStatement("""
            SELECT d.work_queue, count(*) AS n FROM scheduled_runs s JOIN deployments d ON d.id = s.deployment_id
            WHERE s.status IN ('waiting', 'claimed') GROUP BY d.work_queue
            """))
        return Dictionary(uniqueKeysWithValues: rows.map { ($0.string("work_queue"), $0.int("n")) })
    }

    public func addScheduledRuns(_ runs: [NewScheduledRun], deployment: Deployment, through: Double?,
                                 ifUnchanged: Bool) async throws {
        let now = Date().timeIntervalSince1970
        var statements: [SQLStatement] = []
        // Each row is made only while the deployment is as it was read: a save or pause commits
        // before or after this transaction, never between the read and the write unnoticed.
        let guardSQL = ifUnchanged
            ? "WHERE EXISTS (SELECT 1 FROM deployments WHERE id = ? AND updated_at = ? AND paused = 0)"
            : "WHERE EXISTS (SELECT 1 FROM deployments WHERE id = ?)"
        let guardValues: [any SQLBindable] = ifUnchanged ? [deployment.id, deployment.updatedAt] : [deployment.id]
        // A NULL parameter in a SELECT list has no type on PostgreSQL: cast the ones that may be NULL.
        let real = executor.dialect == .postgres ? "DOUBLE PRECISION" : "REAL"
        for run in runs {
            let parameters = try Self.json(run.parameters)
            let status = run.skippedBecause == nil ? "waiting" : "skipped"
            let state = run.skippedBecause == nil ? "Scheduled" : "Cancelled"
            statements.append(SQLStatement("""
                INSERT INTO flow_runs (id, flow_name, state, work_queue, epoch, sequence, created_at, ended_at, error,
                                       deployment_id, parameters)
                SELECT ?, ?, ?, ?, 0, 0, ?, CAST(? AS \(real)), CAST(? AS TEXT), ?, ? \(guardSQL)
                    AND NOT EXISTS (SELECT 1 FROM scheduled_runs WHERE flow_run_id = ?)
                ON CONFLICT DO NOTHING
                """, [run.flowRunID, deployment.flow, state, deployment.workQueue, now,
                      run.skippedBecause == nil ? nil : now, run.skippedBecause, deployment.id, parameters]
                    + guardValues + [run.flowRunID]))
            statements.append(SQLStatement("""
                INSERT INTO flow_run_states (flow_run_id, epoch, sequence, state, time, error)
                SELECT ?, 0, 0, ?, ?, CAST(? AS TEXT) \(guardSQL) AND NOT EXISTS (SELECT 1 FROM scheduled_runs WHERE flow_run_id = ?)
                ON CONFLICT DO NOTHING
                """, [run.flowRunID, state, now, run.skippedBecause] + guardValues + [run.flowRunID]))
            statements.append(SQLStatement("""
                INSERT INTO scheduled_runs (flow_run_id, deployment_id, scheduled_at, parameters, origin, status)
                SELECT ?, ?, ?, ?, ?, ? \(guardSQL) ON CONFLICT DO NOTHING
                """, [run.flowRunID, deployment.id, run.scheduledAt, parameters, run.origin, status] + guardValues))
        }
        if let through {
            statements.append(SQLStatement("""
                UPDATE deployments SET scheduled_through = ?
                WHERE id = ? AND updated_at = ? AND (scheduled_through IS NULL OR scheduled_through < ?)
                """, [through, deployment.id, deployment.updatedAt, through]))
        }
        guard !statements.isEmpty else { return }
        try await executor.write(statements)
    }

    public func dueRuns(at time: Double, limit: Int) async throws -> [ScheduledRun] {
        try await executor.read(SQLStatement("""
            SELECT s.*, d.name AS deployment, NULL AS state FROM scheduled_runs s
            LEFT JOIN deployments d ON d.id = s.deployment_id
            WHERE s.status = 'waiting' AND s.scheduled_at <= ? ORDER BY s.scheduled_at LIMIT ?
            """, [time, limit])).map(Self.scheduledRun)
    }

    public func unclaimedRuns(dueAfter start: Double, through end: Double, limit: Int) async throws -> [UpcomingRun] {
        try await executor.read(SQLStatement("""
            SELECT s.flow_run_id, s.scheduled_at, d.flow_name, d.work_queue FROM scheduled_runs s
            JOIN deployments d ON d.id = s.deployment_id
            WHERE s.status = 'waiting' AND s.claimed_at IS NULL AND s.scheduled_at > ? AND s.scheduled_at <= ?
            ORDER BY s.scheduled_at LIMIT ?
            """, [start, end, limit])).map {
            UpcomingRun(flowRunID: $0.string("flow_run_id"), flow: $0.string("flow_name"),
                        workQueue: $0.string("work_queue"), scheduledAt: $0["scheduled_at"]?.double ?? 0)
        }
    }

    public func nextDueTime() async throws -> Double? {
        try await executor.read(SQLStatement(
            "SELECT min(scheduled_at) AS next FROM scheduled_runs WHERE status = 'waiting'")).first?["next"]?.double
    }

    public func claimRuns(_ ids: [String], scheduler: String, at time: Double) async throws -> [String] {
        guard !ids.isEmpty else { return [] }
        let list = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        // One conditional update: on PostgreSQL a second server's update of the same row waits for
        // this one's commit, then finds the row no longer waiting; SQLite has one writer at a time.
        try await executor.write([SQLStatement("""
            UPDATE scheduled_runs SET status = 'claimed', claimed_by = ?, claimed_at = ?
            WHERE status = 'waiting' AND flow_run_id IN (\(list))
            """, [scheduler, time] + ids)])
        return try await executor.read(SQLStatement("""
            SELECT flow_run_id FROM scheduled_runs WHERE status = 'claimed' AND claimed_by = ? AND flow_run_id IN (\(list))
            """, [scheduler] + ids)).map { $0.string("flow_run_id") }
    }

    public func markSubmitted(_ ids: [String], by scheduler: String, at time: Double) async throws {
        guard !ids.isEmpty else { return }
        let list = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        try await executor.write([SQLStatement("""
            UPDATE scheduled_runs SET status = 'submitted', submitted_at = ?
            WHERE status = 'claimed' AND claimed_by = ? AND flow_run_id IN (\(list))
            """, [time, scheduler] + ids)])
    }

    public func skipRuns(_ ids: [String], reason: String, at time: Double) async throws {
        guard !ids.isEmpty else { return }
        let list = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        try await executor.write([
            SQLStatement("UPDATE scheduled_runs SET status = 'skipped' WHERE status = 'waiting' AND flow_run_id IN (\(list))", ids),
            SQLStatement("""
                UPDATE flow_runs SET state = 'Cancelled', ended_at = ?, error = ?, sequence = 1
                WHERE epoch = 0 AND state = 'Scheduled' AND id IN (\(list))
                """, [time, reason] + ids),
            SQLStatement("""
                INSERT INTO flow_run_states (flow_run_id, epoch, sequence, state, time, error)
                SELECT id, 0, 1, 'Cancelled', ?, ? FROM flow_runs WHERE state = 'Cancelled' AND id IN (\(list))
                ON CONFLICT DO NOTHING
                """, [time, reason] + ids),
        ])
    }

    public func releaseClaims(before time: Double) async throws {
        try await executor.write([SQLStatement("""
            UPDATE scheduled_runs SET status = 'waiting', claimed_by = NULL
            WHERE status = 'claimed' AND claimed_at < ?
                AND claimed_by NOT IN (SELECT id FROM scheduler_ticks WHERE time >= ?)
            """, [time, time])])
    }

    public func releaseClaims(_ ids: [String]) async throws {
        guard !ids.isEmpty else { return }
        let list = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        try await executor.write([SQLStatement(
            "UPDATE scheduled_runs SET status = 'waiting', claimed_by = NULL WHERE status = 'claimed' AND flow_run_id IN (\(list))",
            ids)])
    }

    public func markLate(dueBefore time: Double, at now: Double) async throws -> Int {
        // Late outranks Pending and Scheduled (epoch 0) and yields to any state an agent sets (epoch 1 on).
        let late = """
            SELECT flow_run_id FROM scheduled_runs WHERE status IN ('waiting', 'submitted') AND scheduled_at < ?
            """
        let count = try await executor.read(SQLStatement("""
            SELECT count(*) AS n FROM flow_runs WHERE epoch = 0 AND state IN ('Scheduled', 'Pending') AND id IN (\(late))
            """, [time])).first?.int("n") ?? 0
        try await executor.write([
            SQLStatement("""
                INSERT INTO flow_run_states (flow_run_id, epoch, sequence, state, time)
                SELECT id, 0, \(Self.lateSequence), 'Late', ? FROM flow_runs
                WHERE epoch = 0 AND state IN ('Scheduled', 'Pending') AND id IN (\(late)) ON CONFLICT DO NOTHING
                """, [now, time]),
            SQLStatement("""
                UPDATE flow_runs SET state = 'Late', sequence = \(Self.lateSequence)
                WHERE epoch = 0 AND state IN ('Scheduled', 'Pending') AND id IN (\(late))
                """, [time]),
            SQLStatement("UPDATE scheduled_runs SET status = 'settled' WHERE status = 'submitted' AND scheduled_at < ?", [time]),
        ])
        return count
    }

    public func activeRunCounts(deploymentIDs: [String]) async throws -> [String: Int] {
        guard !deploymentIDs.isEmpty else { return [:] }
        let list = Array(repeating: "?", count: deploymentIDs.count).joined(separator: ", ")
        let final = Schema.finalStates.map { "'\($0)'" }.joined(separator: ", ")
        let rows = try await executor.read(SQLStatement("""
            SELECT s.deployment_id, count(*) AS n FROM scheduled_runs s JOIN flow_runs f ON f.id = s.flow_run_id
            WHERE s.deployment_id IN (\(list)) AND s.status IN ('claimed', 'submitted', 'settled')
                AND f.state NOT IN (\(final))
            GROUP BY s.deployment_id
            """, deploymentIDs))
        return Dictionary(uniqueKeysWithValues: rows.map { ($0.string("deployment_id"), $0.int("n")) })
    }

    public func triggeringRuns(since: Double, flowNames: [String], deploymentIDs: [String]) async throws
        -> [FlowRunRecord] {
        var sources: [String] = [], values: [any SQLBindable] = [since, since]
        if !flowNames.isEmpty {
            sources.append("flow_name IN (\(Array(repeating: "?", count: flowNames.count).joined(separator: ", ")))")
            values += flowNames as [any SQLBindable]
        }
        if !deploymentIDs.isEmpty {
            sources.append("deployment_id IN (\(Array(repeating: "?", count: deploymentIDs.count).joined(separator: ", ")))")
            values += deploymentIDs as [any SQLBindable]
        }
        guard !sources.isEmpty else { return [] }
        return try await executor.read(SQLStatement("""
            SELECT * FROM flow_runs
            WHERE (ended_at >= ? OR (state = 'Late' AND created_at >= ?)) AND (\(sources.joined(separator: " OR ")))
            ORDER BY coalesce(ended_at, created_at) DESC LIMIT 10000
            """, values)).map(Self.flowRun)
    }

    public func tick(scheduler: String, at time: Double) async throws {
        try await executor.write([SQLStatement("""
            INSERT INTO scheduler_ticks (id, time) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET time = excluded.time
            """, [scheduler, time])])
    }

    public func lastTick() async throws -> Double? {
        try await executor.read(SQLStatement("SELECT max(time) AS last FROM scheduler_ticks")).first?["last"]?.double
    }

    /// The sequence a Late state is written with at epoch 0: above any Pending event's.
    static var lateSequence: Int { 1_000_000_000 }

    /// Deletes a deployment's runs not yet pushed (of one origin, or all), with their Scheduled flow runs.
    private static func dropWaitingRuns(deploymentID: String, origin: String?) -> [SQLStatement] {
        // Never claimed: a run waiting again after its claim was handed back may have been pushed.
        let waiting = "SELECT flow_run_id FROM scheduled_runs WHERE deployment_id = ? AND status = 'waiting' AND claimed_at IS NULL"
            + (origin == nil ? "" : " AND origin = ?")
        let values: [any SQLBindable] = origin.map { [deploymentID, $0] } ?? [deploymentID]
        return [
            SQLStatement("DELETE FROM flow_run_states WHERE flow_run_id IN (\(waiting))", values),
            SQLStatement("DELETE FROM flow_runs WHERE id IN (\(waiting))", values),
            SQLStatement("DELETE FROM scheduled_runs WHERE flow_run_id IN (\(waiting))", values),
        ]
    }

    private static func json<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONEncoder.iso8601.encode(value), as: UTF8.self)
    }

    private static func decoded<T: Decodable>(_ type: T.Type, _ text: String?, default fallback: T) -> T {
        guard let text, let value = try? JSONDecoder.iso8601.decode(T.self, from: Data(text.utf8)) else { return fallback }
        return value
    }

    private static func deployment(_ row: SQLRow) -> Deployment {
        Deployment(id: row.string("id"), name: row.string("name"), flow: row.string("flow_name"),
                   parameters: decoded(JSONValue.self, row["parameters"]?.string, default: .object([:])),
                   workQueue: row.string("work_queue"),
                   schedules: decoded([Schedule].self, row["schedule"]?.string, default: []),
                   tags: decoded([String].self, row["tags"]?.string, default: []),
                   description: row["description"]?.string, runLimit: row["run_limit"]?.int,
                   paused: row.int("paused") != 0,
                   catchup: CatchupPolicy(rawValue: row["catchup"]?.string ?? "") ?? .latest,
                   triggers: decoded([Trigger].self, row["triggers"]?.string, default: []),
                   createdAt: row.double("created_at"), updatedAt: row.double("updated_at"),
                   scheduledThrough: row["scheduled_through"]?.double)
    }

    private static func scheduledRun(_ row: SQLRow) -> ScheduledRun {
        ScheduledRun(flowRunID: row.string("flow_run_id"), deploymentID: row.string("deployment_id"),
                     deployment: row["deployment"]?.string, scheduledAt: row.double("scheduled_at"),
                     parameters: decoded(JSONValue.self, row["parameters"]?.string, default: .null),
                     origin: row.string("origin"), status: row.string("status"), state: row["state"]?.string,
                     submittedAt: row["submitted_at"]?.double, claimedAt: row["claimed_at"]?.double)
    }
}

extension JSONEncoder {
    /// Dates as ISO 8601 text (a schedule's anchor).
    static var iso8601: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        return encoder
    }
}

extension JSONDecoder {
    static var iso8601: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
