import Foundation
import Testing
import Tributary
import TributaryServer

/// The server's HTTP API and the CLI that reads it, on a real server process over a store the
/// test fills.
@Suite("The server's API")
struct ServerAPITests {
    /// A store with 30 flow runs (3 flows, Completed and Failed, every fifth a subflow of run 0) at
    /// times 1000, 1010, ...; run 0 has `taskRuns` task runs, every tenth Failed.
    static func filledStore(taskRuns: Int) async throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("trib-api-\(UUID().uuidString).db").path
        let store = try SQLiteRunStore(path: path)
        var events: [RunEvent] = []
        for index in 0..<30 {
            let time = 1_000 + Double(index) * 10
            events.append(RunEvent(kind: .flowRun, flowRunID: "run-\(index)",
                                   parentFlowRunID: index > 0 && index % 5 == 0 ? "run-0" : nil,
                                   name: "flow-\(index % 3)", state: "Running", sequence: 1, time: time))
            events.append(RunEvent(kind: .flowRun, flowRunID: "run-\(index)", name: "flow-\(index % 3)",
                                   state: index % 4 == 0 ? "Failed" : "Completed", sequence: 2, time: time + 5,
                                   error: index % 4 == 0 ? "it failed" : nil))
        }
        try await store.record(events)
        for start in stride(from: 0, to: taskRuns, by: 1_000) {
            var batch: [RunEvent] = []
            for index in start..<min(start + 1_000, taskRuns) {
                // Start times collide in tens, so paging must order by id within a time.
                let begun = 2_000 + Double(index / 10), id = "run-0.\(index)"
                batch.append(RunEvent(kind: .taskRun, flowRunID: "run-0", taskRunID: id, name: "square",
                                      state: "Running", attempt: 1, worker: "w", sequence: 1, time: begun))
                batch.append(RunEvent(kind: .taskRun, flowRunID: "run-0", taskRunID: id, name: "square",
                                      state: index % 10 == 0 ? "Failed" : "Completed", attempt: 1, worker: "w",
                                      sequence: 2, time: begun + Double(index % 7)))
            }
            try await store.record(batch)
        }
        return path
    }

    /// Every item of a paged list, following its cursors.
    static func all<T: Codable & Sendable & Equatable>(_ path: String, on server: ServerProcess, as type: T.Type)
        async throws -> [T] {
        var items: [T] = [], cursor: String?
        repeat {
            let separator = path.contains("?") ? "&" : "?"
            let page = try await server.get(path + (cursor.map { "\(separator)cursor=\($0)" } ?? ""), as: Page<T>.self)
            items += page.items
            cursor = page.nextCursor
        } while cursor != nil
        return items
    }

    @Test("paging through 10,000 task runs, by start and by duration, misses and repeats none; a state filter keeps only that state")
    func pagingTaskRuns() async throws {
        let server = try await ServerProcess(label: "paging", database: try await Self.filledStore(taskRuns: 10_000),
                                             broker: nil)
        let byStart = try await Self.all("/flow-runs/run-0/task-runs?limit=777", on: server, as: TaskRunRecord.self)
        #expect(byStart.count == 10_000 && Set(byStart.map(\.id)).count == 10_000)
        #expect(byStart.map { $0.startedAt! } == byStart.map { $0.startedAt! }.sorted())
        let byDuration = try await Self.all("/flow-runs/run-0/task-runs?limit=1000&sort=duration", on: server,
                                            as: TaskRunRecord.self)
        #expect(Set(byDuration.map(\.id)).count == 10_000 && byDuration.count == 10_000)
        #expect(byDuration.map { $0.duration! } == byDuration.map { $0.duration! }.sorted(by: >))
        let failed = try await Self.all("/flow-runs/run-0/task-runs?state=Failed&limit=300", on: server,
                                        as: TaskRunRecord.self)
        #expect(failed.count == 1_000 && failed.allSatisfy { $0.state == "Failed" })
        let detail = try await server.get("/flow-runs/run-0", as: FlowRunDetail.self)
        #expect(detail.taskRunCounts == ["Completed": 9_000, "Failed": 1_000])
        await server.dispose()
    }

    @Test("flow runs filtered by state, flow, parent and time, paged newest first")
    func filteringFlowRuns() async throws {
        let server = try await ServerProcess(label: "filter", database: try await Self.filledStore(taskRuns: 0),
                                             broker: nil)
        let all = try await Self.all("/flow-runs?limit=7", on: server, as: FlowRunRecord.self)
        #expect(all.map(\.id) == (0..<30).reversed().map { "run-\($0)" })
        let failed = try await Self.all("/flow-runs?state=Failed", on: server, as: FlowRunRecord.self)
        #expect(Set(failed.map(\.id)) == Set(stride(from: 0, to: 30, by: 4).map { "run-\($0)" }))
        #expect(failed.allSatisfy { $0.error == "it failed" })
        let flow = try await Self.all("/flow-runs?flow=flow-1&state=Completed,Failed", on: server, as: FlowRunRecord.self)
        #expect(Set(flow.map(\.id)) == Set(stride(from: 1, to: 30, by: 3).map { "run-\($0)" }))
        let children = try await Self.all("/flow-runs?parent=run-0", on: server, as: FlowRunRecord.self)
        #expect(Set(children.map(\.id)) == ["run-5", "run-10", "run-15", "run-20", "run-25"])
        let window = try await Self.all("/flow-runs?since=1100&until=1150", on: server, as: FlowRunRecord.self)
        #expect(window.map(\.id) == ["run-14", "run-13", "run-12", "run-11", "run-10"])
        await server.dispose()
    }

    @Test("bad query parameters are 400 and unknown ids 404, each with a message naming what is wrong")
    func badRequests() async throws {
        let server = try await ServerProcess(label: "bad", database: try await Self.filledStore(taskRuns: 10),
                                             broker: nil)
        for (path, status, words) in [
            ("/flow-runs?limit=0", 400, "limit"), ("/flow-runs?limit=abc", 400, "limit"),
            ("/flow-runs?state=Sleeping", 400, "Sleeping"), ("/flow-runs?since=yesterday", 400, "since"),
            ("/flow-runs?cursor=nonsense", 400, "cursor"), ("/flow-runs/run-0/task-runs?sort=name", 400, "sort"),
            ("/flow-runs/no-such-run", 404, "no-such-run"), ("/flow-runs/no-such-run/task-runs", 404, "no-such-run"),
            ("/flow-runs/no-such-run/logs", 404, "no-such-run"), ("/task-runs/nothing/states", 404, "nothing"),
        ] {
            let (answer, body) = try await server.request(path)
            #expect(answer == status, "\(path)")
            #expect(ServerProcess.message(in: body)?.contains(words) == true,
                    "\(path): \(String(decoding: body, as: UTF8.self))")
        }
        let (cancel, body) = try await server.request("/flow-runs/run-1/cancel", method: "POST")
        #expect(cancel == 503 && ServerProcess.message(in: body)?.contains("--broker") == true)
        await server.dispose()
    }

    @Test("/metrics is Prometheus text, and its runs by state match the store's")
    func metrics() async throws {
        let server = try await ServerProcess(label: "metrics", database: try await Self.filledStore(taskRuns: 200),
                                             broker: nil)
        let (status, body) = try await server.request("/metrics", underAPI: false)
        #expect(status == 200)
        let text = String(decoding: body, as: UTF8.self)
        let sample = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})? -?[0-9.eE+-]+$/
        let comment = /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            let ok = (try? sample.wholeMatch(in: String(line))) != nil || (try? comment.wholeMatch(in: String(line))) != nil
            #expect(ok, "not Prometheus text: \(line)")
            if !line.hasPrefix("#"), let space = line.lastIndex(of: " ") {
                values[String(line[..<space])] = Double(line[line.index(after: space)...])
            }
        }
        // The store: 30 flow runs, every fourth Failed; run-0's 200 task runs, every tenth Failed.
        let failed = try await Self.all("/flow-runs?state=Failed", on: server, as: FlowRunRecord.self).count
        #expect(values[#"tributary_flow_runs{state="Failed"}"#] == Double(failed) && failed == 8)
        #expect(values[#"tributary_flow_runs{state="Completed"}"#] == 22)
        let counts = try await server.get("/flow-runs/run-0", as: FlowRunDetail.self).taskRunCounts
        #expect(values[#"tributary_task_runs{state="Failed"}"#] == Double(counts["Failed"] ?? -1))
        #expect(values[#"tributary_task_runs{state="Completed"}"#] == Double(counts["Completed"] ?? -1))
        await server.dispose()
    }

    @Test("with --api-key, a request without the key is 401; with it (Bearer or X-API-Key) it is answered")
    func apiKey() async throws {
        let server = try await ServerProcess(label: "key", database: try await Self.filledStore(taskRuns: 0),
                                             broker: nil, extraArguments: ["--api-key", "s3cret"])
        let (without, body) = try await server.request("/flow-runs")
        #expect(without == 401 && ServerProcess.message(in: body)?.contains("API key") == true)
        #expect(try await server.request("/flow-runs", headers: ["Authorization": "Bearer wrong"]).status == 401)
        #expect(try await server.request("/flow-runs", headers: ["Authorization": "Bearer s3cret"]).status == 200)
        #expect(try await server.request("/flow-runs", headers: ["X-API-Key": "s3cret"]).status == 200)
        await server.dispose()
    }

    @Test("trib config: set puts a setting in the profile, which commands then use; view says where each value comes from; unset removes it; a setting that does not exist is refused")
    func profile() async throws {
        let server = try await ServerProcess(label: "profile", database: try await Self.filledStore(taskRuns: 0),
                                             broker: nil)
        let trib = WorkerProcess.binDirectory.appendingPathComponent("trib")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("trib-profile-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let profile = ["TRIB_PROFILE": path]
        try Command.require(try await Command.run(trib, ["config", "set", "TRIB_API_URL=\(server.apiURL)"],
                                                  environment: profile))
        let listed = try await Command.run(trib, ["flow-run", "ls", "--limit", "2"], environment: profile)
        try Command.require(listed)
        #expect(listed.output.contains("run-29") && listed.output.contains("run-28"), "\(listed.output)")
        let view = try await Command.run(trib, ["config", "view"], environment: profile.merging(["TRIB_EVENTS": "off"]) { $1 })
        #expect(view.output.contains("TRIB_API_URL=\(server.apiURL) (profile)"), "\(view.output)")
        #expect(view.output.contains("TRIB_EVENTS=off (environment)"), "\(view.output)")
        #expect(view.output.contains("TRIB_HEARTBEAT_INTERVAL=10 (default)"), "\(view.output)")
        let bad = try await Command.run(trib, ["config", "set", "TRIB_NO_SUCH=1"], environment: profile)
        #expect(bad.status != 0 && bad.output.contains("'TRIB_NO_SUCH' is not a setting"), "\(bad.output)")
        try Command.require(try await Command.run(trib, ["config", "unset", "TRIB_API_URL"], environment: profile))
        let after = try await Command.run(trib, ["config", "view"], environment: profile)
        #expect(after.output.contains("TRIB_API_URL=http://127.0.0.1:4200/api (default)"), "\(after.output)")
        await server.dispose()
    }

    @Test("the CLI against a running server: flow-run ls, inspect and task-run ls as tables and as JSON; an unknown id, no server and the UI's address each say so")
    func commandLine() async throws {
        let server = try await ServerProcess(label: "cli", database: try await Self.filledStore(taskRuns: 20),
                                             broker: nil)
        let trib = WorkerProcess.binDirectory.appendingPathComponent("trib")
        let api = ["--api-url", server.apiURL]
        let list = try await Command.run(trib, ["flow-run", "ls", "--state", "Failed", "--limit", "3"] + api)
        try Command.require(list)
        let rows = list.output.split(separator: "\n")
        #expect(rows.first?.hasPrefix("ID") == true && rows.count == 4, "\(list.output)")
        #expect(rows.dropFirst().allSatisfy { $0.contains("Failed") }, "\(list.output)")
        let inspect = try await Command.run(trib, ["flow-run", "inspect", "run-0"] + api)
        try Command.require(inspect)
        #expect(inspect.output.contains("Task runs  Completed 18, Failed 2"), "\(inspect.output)")
        #expect(inspect.output.contains("Error      it failed"), "\(inspect.output)")
        let tasks = try await Command.run(trib, ["task-run", "ls", "--flow-run", "run-0", "--state", "Failed", "--json"] + api)
        try Command.require(tasks)
        let records = try JSONDecoder().decode([TaskRunRecord].self, from: Data(tasks.output.utf8))
        #expect(Set(records.map(\.id)) == ["run-0.0", "run-0.10"])
        let unknown = try await Command.run(trib, ["flow-run", "inspect", "missing-run"] + api)
        #expect(unknown.status != 0 && unknown.output.contains("no flow run 'missing-run' is recorded"), "\(unknown.output)")
        let noServer = try await Command.run(trib, ["flow-run", "ls", "--api-url", "http://127.0.0.1:1/api"])
        #expect(noServer.status != 0 && noServer.output.contains("trib server start"), "\(noServer.output)")
        // The server's own address, without /api: its UI answers, with a page.
        let page = try await Command.run(trib, ["flow-run", "ls", "--api-url", String(server.apiURL.dropLast("/api".count))])
        #expect(page.status != 0 && page.output.contains("the API URL ends in /api"), "\(page.output)")
        await server.dispose()
    }
}
