import Foundation
import Testing
import Tributary
import TributaryServer

/// The run store: what a batch of events makes of a run, whatever order and however many times
/// they come, on SQLite and on a real PostgreSQL (a database of each test's own).
@Suite("The server's run store")
struct RunStoreTests {
    enum Backend: String, CaseIterable, CustomStringConvertible {
        case sqlite, postgres
        var description: String { rawValue }
    }

    /// A new empty store; `body` runs with it, and the store goes afterwards.
    static func withStore(_ backend: Backend, _ body: (any RunStore) async throws -> Void) async throws {
        switch backend {
        case .sqlite:
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("trib-store-\(UUID().uuidString).db").path
            defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
            try await body(try SQLiteRunStore(path: path))
        case .postgres:
            let url = try await TestPostgres.createDatabase()
            let store = try await PostgresRunStore(url: url)
            do {
                try await body(store)
            } catch {
                await store.close()
                await TestPostgres.drop(url)
                throw error
            }
            await store.close()
            await TestPostgres.drop(url)
        }
    }

    static func task(_ flowRunID: String, _ taskRunID: String, _ state: String, attempt: Int = 1, epoch: Int = 1,
                     sequence: Int, time: Double, worker: String? = "w0") -> RunEvent {
        RunEvent(kind: .taskRun, flowRunID: flowRunID, taskRunID: taskRunID, name: "square", state: state,
                 attempt: attempt, worker: worker, epoch: epoch, sequence: sequence, time: time)
    }

    static func flow(_ id: String, _ state: String, name: String = "f", sequence: Int, time: Double,
                     parent: String? = nil) -> RunEvent {
        RunEvent(kind: .flowRun, flowRunID: id, parentFlowRunID: parent, name: name, state: state, attempt: 1,
                 sequence: sequence, time: time)
    }

    @Test("events that arrive out of order never turn a newer state into an older one; the history keeps every state in order", arguments: Backend.allCases)
    func outOfOrder(backend: Backend) async throws {
        try await Self.withStore(backend) { store in
            try await store.record([Self.flow("r", "Running", sequence: 1, time: 100)])
            try await store.record([Self.task("r", "r.1", "Completed", sequence: 4, time: 103)])
            try await store.record([Self.task("r", "r.1", "Running", sequence: 2, time: 101),
                                    Self.task("r", "r.1", "Pending", sequence: 1, time: 100.5, worker: nil)])
            let run = try #require(try await store.taskRuns(TaskRunQuery(flowRunID: "r")).items.first)
            #expect(run.state == "Completed")
            #expect(run.startedAt == 101 && run.endedAt == 103 && run.createdAt == 100.5 && run.worker == "w0")
            #expect(try await store.taskRunStates(id: "r.1").map(\.state) == ["Pending", "Running", "Completed"])
            // A later take of the run (epoch 2) is newer whatever its sequence.
            try await store.record([Self.task("r", "r.1", "Running", epoch: 2, sequence: 1, time: 104)])
            #expect(try await store.taskRuns(TaskRunQuery(flowRunID: "r")).items.first?.state == "Running")
        }
    }

    @Test("a batch recorded twice (redelivered) changes nothing the second time", arguments: Backend.allCases)
    func duplicateBatch(backend: Backend) async throws {
        try await Self.withStore(backend) { store in
            let batch = [
                Self.flow("d", "Running", sequence: 1, time: 10),
                Self.task("d", "d.1", "Pending", sequence: 2, time: 10),
                Self.task("d", "d.1", "Completed", sequence: 3, time: 11),
                RunEvent(kind: .log, flowRunID: "d", taskRunID: "d.1", name: "square", sequence: 4, time: 11,
                         level: "info", message: "hello"),
                Self.flow("d", "Completed", sequence: 5, time: 12),
            ]
            try await store.record(batch)
            try await store.record(batch)
            let detail = try #require(try await store.flowRun(id: "d"))
            #expect(detail.states.map(\.state) == ["Running", "Completed"])
            #expect(detail.taskRunCounts == ["Completed": 1])
            #expect(try await store.logs(LogQuery(flowRunID: "d")).map(\.message) == ["hello"])
            #expect(try await store.taskRunStates(id: "d.1").count == 2)
        }
    }

    @Test("retention deletes finished runs older than the cutoff, with their task runs, histories and logs; it keeps running and newer runs", arguments: Backend.allCases)
    func retention(backend: Backend) async throws {
        try await Self.withStore(backend) { store in
            try await store.record([
                Self.flow("old", "Completed", sequence: 1, time: 100), Self.task("old", "old.1", "Completed", sequence: 2, time: 100),
                RunEvent(kind: .log, flowRunID: "old", name: "square", sequence: 3, time: 100, level: "info", message: "x"),
                Self.flow("running", "Running", sequence: 4, time: 100),
                Self.flow("new", "Failed", sequence: 5, time: 300),
            ])
            #expect(try await store.deleteRuns(endedBefore: 200) == 1)
            #expect(try await store.flowRun(id: "old") == nil)
            #expect(try await store.taskRunStates(id: "old.1").isEmpty)
            #expect(try await store.logs(LogQuery(flowRunID: "old")).isEmpty)
            #expect(try await store.flowRun(id: "running") != nil)
            #expect(try await store.flowRun(id: "new") != nil)
        }
    }

    @Test("a deployment's version changes when it is saved, paused or its runs are made further ahead, and nothing else changes it; deployments are read by id", arguments: Backend.allCases)
    func deploymentVersions(backend: Backend) async throws {
        try await Self.withStore(backend) { store in
            let a = try await store.saveDeployment(DeploymentSpec(name: "a", flow: "f"), at: 100)
            let b = try await store.saveDeployment(DeploymentSpec(name: "b", flow: "f"), at: 100)
            let first = try await store.deploymentVersions()
            #expect(first.map(\.id) == [a.id, b.id], "by name")
            #expect(try await store.deployments(ids: [b.id]) == [b])
            #expect(try await store.deployments(ids: [a.id, "no-such-id"]) == [a])
            #expect(try await store.deployments(ids: []).isEmpty)
            #expect(try await store.deploymentVersions() == first, "reading changes nothing")

            let savedAgain = try await store.saveDeployment(DeploymentSpec(name: "a", flow: "f", workQueue: "other"), at: 101)
            _ = try await store.setPaused(true, deployment: "b", backfill: false, at: 102)
            let second = try await store.deploymentVersions()
            #expect(second[0] != first[0], "saved")
            #expect(second[1] != first[1], "paused")

            try await store.addScheduledRuns([], deployment: savedAgain, through: 500, ifUnchanged: true)
            let third = try await store.deploymentVersions()
            #expect(third[0].scheduledThrough == 500, "runs made further ahead")
            #expect(third[0].updatedAt == second[0].updatedAt)
            #expect(third[1] == second[1])

            #expect(try await store.deleteDeployment(named: "b"))
            #expect(try await store.deploymentVersions().map(\.id) == [a.id])
        }
    }

    @Test("a cursor the store did not hand out is refused with a message", arguments: Backend.allCases)
    func badCursor(backend: Backend) async throws {
        try await Self.withStore(backend) { store in
            var query = FlowRunQuery()
            query.cursor = "garbage"
            await #expect(throws: BadQuery.self) { _ = try await store.flowRuns(query) }
        }
    }

    @Test("paging through 3,000 task runs by start and by duration, and flow runs newest first, misses and repeats none; heartbeats keep the latest per process", arguments: Backend.allCases)
    func paging(backend: Backend) async throws {
        try await Self.withStore(backend) { store in
            var events: [RunEvent] = []
            for index in 0..<3_000 {
                let begun = 100 + Double(index / 10)
                events.append(Self.task("p", "p.\(index)", "Running", sequence: 1, time: begun))
                events.append(Self.task("p", "p.\(index)", "Completed", sequence: 2, time: begun + Double(index % 7)))
            }
            for index in 0..<40 { events.append(Self.flow("f\(index)", "Running", sequence: 1, time: Double(index / 3))) }
            try await store.record(events)
            for sort in TaskRunQuery.Sort.allCases {
                var seen: [String] = [], cursor: String?
                repeat {
                    var query = TaskRunQuery(flowRunID: "p")
                    query.sort = sort
                    query.limit = 250
                    query.cursor = cursor
                    let page = try await store.taskRuns(query)
                    seen += page.items.map(\.id)
                    cursor = page.nextCursor
                } while cursor != nil
                #expect(seen.count == 3_000 && Set(seen).count == 3_000, "\(sort)")
            }
            var flows: [String] = [], cursor: String?
            repeat {
                var query = FlowRunQuery()
                query.limit = 7
                query.cursor = cursor
                let page = try await store.flowRuns(query)
                flows += page.items.map(\.id)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(flows.count == 40 && Set(flows).count == 40)
            var durations = AttemptDurations()
            for seconds in [0.001, 0.2, 0.2, 7, 1_000] { durations.observe(seconds) }
            let beat = Heartbeat(kind: .worker, id: "w", queues: ["a", "b"], concurrency: 4, running: 1, completed: 5,
                                 failed: 0, durations: durations, startedAt: 10, interval: 10, sequence: 2)
            var older = beat
            older.sequence = 1
            older.completed = 3
            older.durations = nil
            try await store.record([], heartbeats: [beat, older])
            let workers = try await store.processes(.worker)
            #expect(workers.count == 1 && workers.first?.completed == 5 && workers.first?.queues == ["a", "b"])
            #expect(workers.first?.durations == durations)
            #expect(durations.cumulativeCounts == [1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 4, 4, 4, 4, 5])
        }
    }
}
