import Foundation
import Testing
import Tributary
import TributaryServer

/// The run store (SQLite): what a batch of events makes of a run, whatever order and however many
/// times they come.
@Suite("The server's run store")
struct RunStoreTests {
    static func store() throws -> SQLiteRunStore {
        try SQLiteRunStore(path: FileManager.default.temporaryDirectory
            .appendingPathComponent("trib-store-\(UUID().uuidString).db").path)
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

    @Test("events that arrive out of order never turn a newer state into an older one; the history keeps every state in order")
    func outOfOrder() async throws {
        let store = try Self.store()
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

    @Test("a batch recorded twice (redelivered) changes nothing the second time")
    func duplicateBatch() async throws {
        let store = try Self.store()
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

    @Test("retention deletes finished runs older than the cutoff, with their task runs, histories and logs; it keeps running and newer runs")
    func retention() async throws {
        let store = try Self.store()
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

    @Test("a cursor the store did not hand out is refused with a message")
    func badCursor() async throws {
        let store = try Self.store()
        var query = FlowRunQuery()
        query.cursor = "garbage"
        await #expect(throws: BadQuery.self) { _ = try await store.flowRuns(query) }
    }
}
