import Foundation
import Glibc
import Synchronization
import Testing
import Tributary
import TributaryExamples
import TributaryServer

/// PostgreSQL restarting under a server that records into it. Restarting it cuts every test's
/// connections, so this suite runs alone (deploy/test.sh, `TRIB_SERIAL_TESTS=1`).
@Suite("PostgreSQL restarting under a recording server", .serialized,
       .enabled(if: ProcessInfo.processInfo.environment["TRIB_SERIAL_TESTS"] == "1"))
struct PostgresRestartTests {
    @Test("PostgreSQL restarted (fast shutdown) while the server records 6 flows: the server reconnects and every run is recorded, each state once")
    func restartWhileRecording() async throws {
        let database = try await TestPostgres.createDatabase()
        let queue = TestBroker.uniqueQueue("pgrestart")
        let server = try await ServerProcess(label: "pgrestart", database: database)
        do {
            let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue, concurrency: 8)
            try await withWorkers([worker]) { try await Self.recordThroughRestart(on: server, queue: queue) }
        } catch {
            // A failed check leaves no server behind it (the worker goes with withWorkers).
            await server.dispose()
            await TestPostgres.drop(database)
            throw error
        }
        await server.dispose()
        await TestPostgres.drop(database)
    }

    /// Runs 6 flows that the server records, restarting PostgreSQL once 2 are in; checks each run was recorded.
    static func recordThroughRestart(on server: ServerProcess, queue: String) async throws {
        let ids = Mutex<Set<String>>([])
        let client = Tributary(broker: TestBroker.url, publishesEvents: true, onEvent: { event in
            _ = ids.withLock { $0.insert(event.flowRunID) }
        })
        let startedBefore = try await TestPostgres.startTime()
        let restart = Task {
            // Once some runs are in, restart the database under the server.
            try await waitUntil("two runs finished", within: .seconds(60)) { ids.withLock { $0.count } >= 2 }
            let script = FileManager.default.currentDirectoryPath + "/deploy/postgres.sh"
            return await Self.system("bash '\(script)' restart")
        }
        for _ in 0..<6 {
            #expect(try await client.run(MixedOutcomes.self, MixedOutcomes.Input(squares: 20, queue: queue))
                    == ServerRecordingTests.expectedResult(squares: 20))
        }
        #expect(try await restart.value == 0, "deploy/postgres.sh restart failed")
        await client.close()
        let runs = ids.withLock { $0 }
        #expect(runs.count == 6)
        for id in runs {
            let detail: FlowRunDetail
            do {
                detail = try await ServerRecordingTests.recorded(id, on: server)
            } catch {
                Issue.record("\(error); the server's log ends: \(server.process.log.lastLinesOnOneLine(30))")
                throw error
            }
            #expect(detail.states.map(\.state) == ["Running", "Completed"])
            let logs = try await server.get("/flow-runs/\(id)/logs", as: Logs.self).logs
            #expect(logs.filter { $0.taskName == "chatty" }.count == 3)
        }
        // The fault happened: the database is a new process. (Whether the server saw a write fail
        // depends on whether a batch was being written in that moment: either way, nothing is lost.)
        #expect(try await TestPostgres.startTime() != startedBefore, "PostgreSQL restarted")
    }

    /// Runs a shell command on a thread of its own with `system` (which waits for the child with
    /// waitpid itself: Foundation's Process missed the exit of a script whose `runuser` child
    /// restarts a daemon, and waited for ever); returns its exit status.
    static func system(_ command: String) async -> Int32 {
        await withCheckedContinuation { continuation in
            Thread {
                let status = Glibc.system(command)
                continuation.resume(returning: status == -1 ? -1 : (status >> 8) & 0xff)
            }.start()
        }
    }
}
