import Foundation
import Synchronization
import Testing
import Tributary
import TributaryExamples
import TributaryServer

/// The server records what clients, agents and workers do, from their events over RabbitMQ, with
/// real worker, agent and server processes.
@Suite("The server records every run from the broker's events")
struct ServerRecordingTests {
    /// `mixed-outcomes` with 20 squares: 20 squares, flaky, chatty Completed; nap TimedOut.
    static let expectedCounts = ["Completed": 22, "TimedOut": 1]
    /// Agents publish their runs' events (deploy/test.sh turns events off for every other test).
    static let events = ["TRIB_EVENTS": "on"]
    static func expectedResult(squares: Int) -> Int { (0..<squares).map { $0 * $0 }.reduce(0, +) + 100 + 3 }

    /// Waits until the server has the run with its final task counts.
    static func recorded(_ id: String, on server: ServerProcess) async throws -> FlowRunDetail {
        var detail: FlowRunDetail?
        try await waitUntil("flow run \(id) recorded as Completed with its task runs", within: .seconds(30)) {
            let (status, body) = try await server.request("/flow-runs/\(id)")
            guard status == 200 else { return false }
            detail = try JSONDecoder().decode(FlowRunDetail.self, from: body)
            return detail?.flowRun.state == "Completed" && detail?.taskRunCounts == expectedCounts
        }
        return try #require(detail)
    }

    @Test("a flow submitted to an agent, its tasks on 2 workers: the server holds the run, every task run with its final state and attempts (two retries, a timeout), and its logs")
    func recordsARunOfAnAgent() async throws {
        let queue = TestBroker.uniqueQueue("srv"), workQueue = TestBroker.uniqueQueue("srvwq")
        let server = try await ServerProcess(label: "record")
        let workers = [
            try await WorkerProcess(id: "w0-\(queue.suffix(6))", queue: queue, concurrency: 4),
            try await WorkerProcess(id: "w1-\(queue.suffix(6))", queue: queue, concurrency: 4),
        ]
        let agent = try await WorkerProcess.agent(id: "a-\(workQueue.suffix(6))", workQueue: workQueue,
                                                  environment: Self.events)
        let client = Tributary(broker: TestBroker.url, publishesEvents: true)
        // A live view: the Server-Sent Events stream of flow-run changes.
        let stream = try server.listen("/changes?kind=flow-run")
        try await waitUntil("the live view connected", within: .seconds(30)) { stream.text.contains(": recording") }
        let handle = try await client.submit(MixedOutcomes.self, MixedOutcomes.Input(squares: 20, queue: queue),
                                             workQueue: workQueue)
        #expect(try await handle.result() == Self.expectedResult(squares: 20))
        let detail = try await Self.recorded(handle.id, on: server)
        try await waitUntil("the live view showed the run's end", within: .seconds(30)) {
            stream.text.contains(handle.id) && stream.text.contains(#""state":"Completed""#)
        }
        let live = await stream.stop()
        let frames = live.components(separatedBy: "\n\n").filter { $0.contains(handle.id) }
        #expect(frames.count == 3 && frames.allSatisfy { $0.hasPrefix("event: flow-run\nid: ") }, "\(live)")
        #expect(frames.last?.contains(#""state":"Completed""#) == true, "\(live)")
        #expect(!live.contains("event: task-run"), "the kind filter holds")
        #expect(detail.flowRun.flowName == "mixed-outcomes")
        #expect(detail.flowRun.startedAt != nil && detail.flowRun.endedAt != nil)
        #expect(detail.states.map(\.state) == ["Pending", "Running", "Completed"], "submitted, taken, ended")
        #expect(detail.flowRun.agent == agent.id && detail.flowRun.workQueue == workQueue, "\(detail.flowRun)")
        let parameters = detail.flowRun.parameters.flatMap {
            try? JSONDecoder().decode(MixedOutcomes.Input.self, from: Data($0.utf8))
        }
        #expect(parameters?.squares == 20 && parameters?.queue == queue, "its input: \(detail.flowRun)")
        #expect(detail.flowRun.result == "\(Self.expectedResult(squares: 20))", "its output")

        let page = try await server.get("/flow-runs/\(handle.id)/task-runs?limit=100", as: Page<TaskRunRecord>.self)
        #expect(page.items.count == 23 && page.nextCursor == nil)
        let workerIDs = Set(workers.map(\.id))
        #expect(page.items.allSatisfy { $0.worker.map(workerIDs.contains) == true }, "every task run names its worker")
        let flaky = try #require(page.items.first { $0.taskName == "flaky" })
        #expect(flaky.state == "Completed" && flaky.attempt == 3)
        let history = try await server.get("/task-runs/\(flaky.id)/states", as: StateHistory.self).states
        #expect(history.filter { $0.state == "Retrying" }.count == 2, "\(history.map(\.state))")
        #expect(history.first?.state == "Pending" && history.last?.state == "Completed")
        let nap = try #require(page.items.first { $0.taskName == "nap" })
        #expect(nap.state == "TimedOut" && nap.error?.contains("1.0 seconds") == true, "\(nap)")
        #expect(page.items.filter { $0.taskName == "square" }.allSatisfy { $0.state == "Completed" && $0.attempt == 1 })

        let logs = try await server.get("/flow-runs/\(handle.id)/logs", as: Logs.self).logs
        let lines = logs.filter { $0.taskName == "chatty" }.map(\.message)
        #expect(lines == (1...3).map { "mixed-outcomes line \($0)" })
        #expect(logs.map(\.position) == logs.map(\.position).sorted())

        // chatty's markdown artifact came back from its worker with its result.
        let chatty = try #require(page.items.first { $0.taskName == "chatty" })
        let artifacts = try await server.get("/flow-runs/\(handle.id)/artifacts", as: Page<ArtifactRecord>.self).items
        #expect(artifacts.count == 1 && artifacts.first?.taskRunID == chatty.id, "\(artifacts)")
        #expect(artifacts.first?.artifact == .markdown("## mixed-outcomes line\n\n3 lines logged"))
        #expect(artifacts.first?.key == "chatty-summary" && artifacts.first?.description == "what chatty said")
        // The key's history (other tests' servers hear their runs too: every server binds trib.events).
        let kept = try await server.get("/artifacts?key=chatty-summary&limit=1000", as: Page<ArtifactRecord>.self).items
        #expect(kept.contains { $0.id == artifacts.first?.id } && kept.allSatisfy { $0.key == "chatty-summary" })

        await client.close()
        for process in workers + [agent] { await process.dispose() }
        await server.dispose()
    }

    @Test("trib run on the embedded default, no broker: its run is recorded in the store TRIB_DATABASE names, and a server on that store shows it with every task run and its logs")
    func recordsAnEmbeddedRun() async throws {
        let database = FileManager.default.temporaryDirectory.appendingPathComponent("trib-embedded-\(UUID()).db").path
        let trib = WorkerProcess.binDirectory.appendingPathComponent("trib")
        let run = try await Command.run(trib, ["run", "mixed-outcomes", #"{"squares":20,"queue":"default"}"#, "--embedded",
                                              "--no-progress"],
                                        environment: ["TRIB_DATABASE": database, "TRIB_EVENTS": "on"])
        try Command.require(run)
        #expect(run.output.contains("\(Self.expectedResult(squares: 20))"), "\(run.output)")
        let server = try await ServerProcess(label: "embedded", database: database, broker: nil)
        try await disposing(server.dispose) {
            let runs = try await server.get("/flow-runs", as: Page<FlowRunRecord>.self).items
            #expect(runs.count == 1 && runs.first?.flowName == "mixed-outcomes")
            let id = try #require(runs.first?.id)
            let detail = try await Self.recorded(id, on: server)
            #expect(detail.states.map(\.state) == ["Running", "Completed"] && detail.flowRun.workQueue == nil)
            let page = try await server.get("/flow-runs/\(id)/task-runs?limit=100", as: Page<TaskRunRecord>.self)
            #expect(page.items.count == 23)
            #expect(page.items.first { $0.taskName == "flaky" }.map { $0.state == "Completed" && $0.attempt == 3 } == true)
            // Info lines are recorded though `trib run` shows only warnings on the terminal.
            let logs = try await server.get("/flow-runs/\(id)/logs", as: Logs.self).logs
            #expect(logs.filter { $0.taskName == "chatty" }.map(\.message) == (1...3).map { "mixed-outcomes line \($0)" })
            #expect(!run.output.contains("mixed-outcomes line"), "\(run.output)")

            // The demo, twice, while the server reads the same file: its model comparison is a table
            // artifact, and its key keeps both.
            let input = #"{"pages": 2, "alphas": [0, 0.1, 1, 10, 100], "threshold": 0.95}"#
            let results = FileManager.default.temporaryDirectory.appendingPathComponent("trib-results-\(UUID())").path
            defer { try? FileManager.default.removeItem(atPath: results) }
            for _ in 0..<2 {
                try Command.require(try await Command.run(trib, ["run", "training-pipeline", input, "--embedded", "--no-progress"],
                                                          environment: ["TRIB_DATABASE": database, "TRIB_EVENTS": "on",
                                                                        "TRIB_RESULT_STORE": results]))
            }
            let history = try await server.get("/artifacts?key=model-comparison", as: Page<ArtifactRecord>.self).items
            #expect(history.count == 2 && history[0].createdAt >= history[1].createdAt)
            guard case .table(let columns, let rows)? = history.first?.artifact else {
                Issue.record("the demo's artifact is not a table: \(history)")
                return
            }
            #expect(columns == ["alpha", "R²", "promoted"] && rows.count == 5)
            #expect(rows.filter { $0[2] == "yes" }.count <= 1 && history[0].taskRunID == nil)
            let keys = try await server.get("/artifacts", as: Page<ArtifactRecord>.self).items.compactMap(\.key)
            #expect(keys.sorted() == ["chatty-summary", "model-comparison"], "the latest of each key, once")
            let (status, body) = try await server.request("/artifacts?key=no%20spaces")
            #expect(status == 400 && ServerProcess.message(in: body)?.contains("not an artifact key") == true)
        }
    }

    @Test("workers and agents show alive with their counts while their heartbeats come, stopped after SIGTERM, not alive after SIGKILL; trib worker ls and agent ls print them")
    func heartbeats() async throws {
        let queue = TestBroker.uniqueQueue("beat"), workQueue = TestBroker.uniqueQueue("beatwq")
        let server = try await ServerProcess(label: "beat")
        // Heartbeats every 2 s: a process is alive while its last came within 3 intervals, which
        // leaves a server recording events behind on a loaded machine 6 s rather than 1.5 s.
        let fast = ["TRIB_HEARTBEAT_INTERVAL": "2", "TRIB_EVENTS": "on"]
        let stopping = try await WorkerProcess(id: "stop-\(queue.suffix(6))", queue: queue, environment: fast)
        let killed = try await WorkerProcess(id: "kill-\(queue.suffix(6))", queue: queue, environment: fast)
        let agent = try await WorkerProcess.agent(id: "beat-\(workQueue.suffix(6))", workQueue: workQueue,
                                                  environment: fast)
        let client = Tributary(broker: TestBroker.url, publishesEvents: true)
        let handle = try await client.submit(MixedOutcomes.self, MixedOutcomes.Input(squares: 20, queue: queue),
                                             workQueue: workQueue)
        _ = try await handle.result()
        func processes(_ kind: String) async throws -> [String: ProcessRecord] {
            let items = try await server.get("/\(kind)", as: ProcessPage.self).items
            return Dictionary(items.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
        }
        try await waitUntil("both workers' heartbeats count every finished task, and the agent's its run",
                            within: .seconds(20)) {
            let workers = try await processes("workers"), agents = try await processes("agents")
            let done = [stopping.id, killed.id].compactMap { workers[$0] }.map { $0.completed }.reduce(0, +)
            return done == 22 && agents[agent.id]?.completed == 1
        }
        // Each worker's heartbeat carries how long every attempt it ran took, and /metrics serves
        // it: both read until they show the same heartbeats (a new one can land between the reads).
        var workers: [String: ProcessRecord] = [:], metrics = ""
        try await waitUntil("/metrics shows the durations of the workers' last heartbeats", within: .seconds(20)) {
            workers = try await processes("workers")
            let (_, scraped) = try await server.request("/metrics", underAPI: false)
            metrics = String(decoding: scraped, as: UTF8.self)
            return [stopping.id, killed.id].allSatisfy { id in
                workers[id]?.durations.map {
                    metrics.contains(#"tributary_worker_task_duration_seconds_count{worker="\#(id)"} \#($0.count)"#)
                } ?? false
            }
        }
        #expect(workers[stopping.id]?.alive == true && workers[killed.id]?.alive == true)
        #expect(workers[stopping.id]?.queues == [queue] && workers[stopping.id]?.concurrency == 4)
        for id in [stopping.id, killed.id] {
            let worker = try #require(workers[id])
            let durations = try #require(worker.durations, "worker \(id) sent no durations")
            #expect(durations.count == worker.completed + worker.failed && durations.counts.reduce(0, +) == durations.count)
            #expect(durations.count == 0 || durations.sum > 0)
            #expect(metrics.contains(#"tributary_worker_task_duration_seconds_bucket{worker="\#(id)",le="+Inf"} \#(durations.count)"#),
                    "\(metrics)")
        }
        let trib = WorkerProcess.binDirectory.appendingPathComponent("trib")
        let listed = try await Command.run(trib, ["worker", "ls", "--api-url", server.apiURL])
        try Command.require(listed)
        #expect(listed.output.split(separator: "\n").contains { $0.contains(stopping.id) && $0.contains("alive") },
                "\(listed.output)")
        let agents = try await Command.run(trib, ["agent", "ls", "--alive", "--json", "--api-url", server.apiURL])
        try Command.require(agents)
        #expect(try JSONDecoder().decode([ProcessRecord].self, from: Data(agents.output.utf8)).contains { $0.id == agent.id })

        // Each names the flow runs it works for now: the agent its run, the workers that run's tasks;
        // the Workers page links them. The tasks last 30 s: a headless Chromium can take seconds to
        // start on a loaded machine, and the page (which redraws every 5 s) must find them still running.
        let slow = try await client.submit(SlowFanout.self, SlowFanout.Input(count: 8, milliseconds: 30_000, queue: queue),
                                           workQueue: workQueue)
        try await waitUntil("the agent and both workers name the slow run", within: .seconds(30)) {
            let workers = try await processes("workers"), agents = try await processes("agents")
            return agents[agent.id]?.flowRuns == [slow.id]
                && [stopping.id, killed.id].allSatisfy { workers[$0]?.flowRuns == [slow.id] }
        }
        let page = try await Browser.run("workers", String(server.apiURL.dropLast("/api".count)), [slow.id])
        #expect((page["links"] as? Int ?? 0) >= 3, "the agent's row and both workers' link to the run: \(page)")
        #expect(UITests.problems(page).isEmpty, "\(UITests.problems(page))")
        #expect(try await slow.result() == (1...8).reduce(0, +))
        try await waitUntil("no one names it once it ended", within: .seconds(20)) {
            let workers = try await processes("workers"), agents = try await processes("agents")
            return agents[agent.id]?.flowRuns == [] && [stopping.id, killed.id].allSatisfy { workers[$0]?.flowRuns == [] }
        }

        await stopping.stop()
        #expect(await killed.killHard())
        try await waitUntil("the stopped worker shows stopped, the killed one not alive", within: .seconds(30)) {
            let now = try await processes("workers")
            return now[stopping.id]?.stopped == true && now[killed.id]?.alive == false && now[killed.id]?.stopped == false
        }
        await client.close()
        for process in [stopping, killed, agent] { await process.dispose() }
        await server.dispose()
    }

    @Test("trib flow-run cancel through the server: the agent running the run cancels it, the server answers so, and records it Cancelled")
    func cancelThroughTheServer() async throws {
        let queue = TestBroker.uniqueQueue("srvcancel"), workQueue = TestBroker.uniqueQueue("srvcancelwq")
        let server = try await ServerProcess(label: "cancel")
        let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue, concurrency: 4)
        let agent = try await WorkerProcess.agent(id: "a-\(workQueue.suffix(6))", workQueue: workQueue,
                                                  environment: Self.events)
        let client = Tributary(broker: TestBroker.url, publishesEvents: true)
        let handle = try await client.submit(SlowFanout.self, SlowFanout.Input(count: 200, milliseconds: 200, queue: queue),
                                             workQueue: workQueue)
        try await waitUntil("the run is recorded Running", within: .seconds(20)) {
            try await server.request("/flow-runs/\(handle.id)").status == 200
        }
        let trib = WorkerProcess.binDirectory.appendingPathComponent("trib")
        let cancel = try await Command.run(trib, ["flow-run", "cancel", handle.id, "--reason", "enough",
                                                  "--api-url", server.apiURL])
        try Command.require(cancel)
        #expect(cancel.output.contains("Cancelled flow run \(handle.id) of 'slow-fanout'"), "\(cancel.output)")
        await #expect(throws: FlowRunFailed.self) { _ = try await handle.result() }
        try await waitUntil("the server recorded it Cancelled", within: .seconds(20)) {
            try await server.get("/flow-runs/\(handle.id)", as: FlowRunDetail.self).flowRun.state == "Cancelled"
        }
        await client.close()
        for process in [worker, agent] { await process.dispose() }
        await server.dispose()
    }

    @Test("runs submitted through the API (POST /api/flow-runs) wait Pending on their work queue, whose depth and agents the API shows, and complete on the agent; a bad submission is 400")
    func submitThroughTheServer() async throws {
        let queue = TestBroker.uniqueQueue("srvsubmit"), workQueue = TestBroker.uniqueQueue("srvsubmitwq")
        let server = try await ServerProcess(label: "submit")
        let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue, concurrency: 2)
        let agent = try await WorkerProcess.agent(id: "a-\(workQueue.suffix(6))", workQueue: workQueue, concurrency: 1,
                                                  environment: Self.events)
        var ids: [String] = []
        for _ in 0..<3 {
            // Each run lasts about 4 s (8 tasks of 1 s, two at a time), so the third still waits when read.
            let body = #"{"flow": "slow-fanout", "workQueue": "\#(workQueue)", "input": {"count": 8, "milliseconds": 1000, "queue": "\#(queue)"}}"#
            let (status, answer) = try await server.request("/flow-runs", method: "POST",
                                                            headers: ["Content-Type": "application/json"],
                                                            body: Data(body.utf8))
            #expect(status == 201, "\(String(decoding: answer, as: UTF8.self))")
            ids.append(try JSONDecoder().decode(Submitted.self, from: answer).id)
        }
        // One runs at a time on this agent: the others wait on the work queue, Pending.
        try await waitUntil("the work queue shows runs waiting and its agent, the task queue its worker",
                            within: .seconds(20)) {
            let work = try await server.get("/work-queues", as: Queues.self).items.first { $0.name == workQueue }
            let tasks = try await server.get("/task-queues", as: Queues.self).items.first { $0.name == queue }
            return (work?.waiting ?? 0) >= 1 && work?.consumers == 1 && tasks?.consumers == 1
        }
        // A run is recorded once its first event reaches the server, a moment after the POST.
        try await waitUntil("the third run is recorded", within: .seconds(20)) {
            try await server.request("/flow-runs/\(ids[2])").status == 200
        }
        let waiting = try await server.get("/flow-runs/\(ids[2])", as: FlowRunDetail.self).flowRun
        #expect(waiting.state == "Pending" && waiting.workQueue == workQueue, "\(waiting)")
        for id in ids {
            try await waitUntil("run \(id) recorded Completed", within: .seconds(60)) {
                try await server.get("/flow-runs/\(id)", as: FlowRunDetail.self).flowRun.state == "Completed"
            }
        }
        for (body, words) in [("not json", "must be JSON"),
                              (#"{"flow": "slow-fanout", "workQueue": "bad name!"}"#, "work queue")] {
            let (status, answer) = try await server.request("/flow-runs", method: "POST", body: Data(body.utf8))
            #expect(status == 400 && ServerProcess.message(in: answer)?.contains(words) == true,
                    "\(String(decoding: answer, as: UTF8.self))")
        }
        for process in [worker, agent] { await process.dispose() }
        await server.dispose()
    }

    @Test("the server stopped while 3 flows run, started, killed with SIGKILL as it records, started again: every run and event recorded, none twice")
    func recordsWhatWaitedWhileItWasDown() async throws {
        let queue = TestBroker.uniqueQueue("srvdown")
        let first = try await ServerProcess(label: "down")
        await first.process.stop()
        let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue, concurrency: 8)
        let ids = Mutex<Set<String>>([])
        let client = Tributary(broker: TestBroker.url, publishesEvents: true, onEvent: { event in
            if event.parentFlowRunID == nil { _ = ids.withLock { $0.insert(event.flowRunID) } }
        })
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<3 {
                group.addTask { try await client.run(MixedOutcomes.self, MixedOutcomes.Input(squares: 20, queue: queue)) }
            }
            for try await result in group { #expect(result == Self.expectedResult(squares: 20)) }
        }
        await client.close()
        let runs = ids.withLock { $0 }
        #expect(runs.count == 3)
        // Events waited on the server's queue; a server that dies as it records leaves some
        // unacknowledged, and they come again to the next.
        let second = try await ServerProcess(label: "down", database: first.database, eventsQueue: first.eventsQueue)
        #expect(await second.process.killHard())
        let third = try await ServerProcess(label: "down", database: first.database, eventsQueue: first.eventsQueue)
        for id in runs {
            _ = try await Self.recorded(id, on: third)
            let tasks = try await third.get("/flow-runs/\(id)/task-runs?limit=1000", as: Page<TaskRunRecord>.self).items
            #expect(tasks.count == 23)
            let logs = try await third.get("/flow-runs/\(id)/logs", as: Logs.self).logs
            #expect(logs.filter { $0.taskName == "chatty" }.count == 3, "each log line once")
            let detail = try await third.get("/flow-runs/\(id)", as: FlowRunDetail.self)
            #expect(detail.states.map(\.state) == ["Running", "Completed"], "each state once")
        }
        await worker.dispose()
        await second.process.dispose()
        await third.dispose()
    }
}

struct Queues: Decodable {
    struct Depth: Decodable {
        var name: String
        var waiting: Int
        var consumers: Int
    }
    var items: [Depth]
}

struct Submitted: Decodable {
    var id: String
}

struct ProcessPage: Decodable {
    var items: [ProcessRecord]
}

struct StateHistory: Decodable {
    var states: [StateRecord]
}

struct Logs: Decodable {
    var logs: [LogRecord]
}
