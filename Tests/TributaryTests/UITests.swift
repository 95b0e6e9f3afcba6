import Foundation
import Testing
import Tributary
import TributaryExamples
import TributaryServer

/// The web UI that `trib server start` serves at `/`, driven in a real headless Chromium
/// (Tests/ui/browser.py) against real server, agent and worker processes over RabbitMQ.
@Suite("The web UI, in a real browser", .serialized)
struct UITests {
    static let events = ["TRIB_EVENTS": "on"]
    static let payload = #"<script>window.__tributaryXSS=true</script><img src=x onerror="window.__tributaryXSS=true">"#

    /// A server with runs of every kind: one through an agent and 2 workers (mixed outcomes and an
    /// artifact), the demo (a table artifact) and one with hostile text, the last two embedded.
    struct Seeded {
        let server: ServerProcess
        let root: String
        let mixed: String
        let demo: String
        let hostile: String
        let processes: [WorkerProcess]

        func dispose() async {
            for process in processes { await process.dispose() }
            await server.dispose()
        }
    }

    static func seeded(_ label: String, extraArguments: [String] = []) async throws -> Seeded {
        let queue = TestBroker.uniqueQueue("ui"), workQueue = TestBroker.uniqueQueue("uiwq")
        let server = try await ServerProcess(label: label, extraArguments: extraArguments)
        let worker = try await disposingOnFailure({ await server.dispose() }) {
            try await WorkerProcess(id: "ui-w-\(queue.suffix(6))", queue: queue, concurrency: 4, environment: events)
        }
        let agent = try await disposingOnFailure({ await worker.dispose(); await server.dispose() }) {
            try await WorkerProcess.agent(id: "ui-a-\(workQueue.suffix(6))", workQueue: workQueue, environment: events)
        }
        do {
            return try await seed(server: server, processes: [worker, agent], queue: queue, workQueue: workQueue,
                                  extraArguments: extraArguments)
        } catch {
            for process in [worker, agent] { await process.dispose() }
            await server.dispose()
            throw error
        }
    }

    private static func seed(server: ServerProcess, processes: [WorkerProcess], queue: String, workQueue: String,
                             extraArguments: [String]) async throws -> Seeded {
        let client = Tributary(broker: TestBroker.url, publishesEvents: true)
        let handle = try await client.submit(MixedOutcomes.self, MixedOutcomes.Input(squares: 20, queue: queue),
                                             workQueue: workQueue)
        _ = try await handle.result()
        let trib = WorkerProcess.binDirectory.appendingPathComponent("trib")
        let embedded = ["TRIB_DATABASE": server.database, "TRIB_EVENTS": "on",
                        "TRIB_RESULT_STORE": FileManager.default.temporaryDirectory.appendingPathComponent("ui-\(UUID())").path]
        try Command.require(try await Command.run(trib, ["run", "training-pipeline",
                                                         #"{"pages": 2, "alphas": [0, 1, 10], "threshold": 0.5}"#,
                                                         "--embedded", "--no-progress"], environment: embedded))
        let hostileInput = String(decoding: try JSONEncoder().encode(HostileText.Input(payload: payload)), as: UTF8.self)
        // It fails (its task's error carries the payload), so its run is a Failed one to filter for.
        let hostile = try await Command.run(trib, ["run", "hostile-text", hostileInput, "--embedded", "--no-progress"],
                                            environment: embedded)
        #expect(hostile.status != 0 && hostile.output.contains("refused"), "\(hostile.output)")
        await client.close()
        let headers = extraArguments.contains("--api-key") ? ["Authorization": "Bearer \(extraArguments.last!)"] : [:]
        func id(of flow: String) async throws -> String {
            var found: String?
            try await waitUntil("the \(flow) run recorded", within: .seconds(20)) {
                let (status, body) = try await server.request("/flow-runs?flow=\(flow)", headers: headers)
                guard status == 200 else { return false }
                found = try JSONDecoder().decode(Page<FlowRunRecord>.self, from: body).items.first?.id
                return found != nil
            }
            return try #require(found)
        }
        return Seeded(server: server, root: String(server.apiURL.dropLast("/api".count)), mixed: handle.id,
                      demo: try await id(of: "training-pipeline"), hostile: try await id(of: "hostile-text"),
                      processes: processes)
    }

    static func problems(_ result: [String: Any]) -> [String] { result["problems"] as? [String] ?? ["no problems list"] }

    @Test("every page loads and draws, with no console error and no failed request, on a laptop and a phone width; the demo's table artifact is on its run's page and on the Artifacts page")
    func everyPageLoads() async throws {
        let seeded = try await Self.seeded("ui-pages")
        try await disposing(seeded.dispose) {
            let pages = try await Browser.run("pages", seeded.root, [seeded.mixed])
            for (name, value) in pages {
                let page = try #require(value as? [String: Any])
                #expect(Self.problems(page).isEmpty, "\(name): \(Self.problems(page))")
            }
            let text = { (name: String) in ((pages[name] as? [String: Any])?["text"] as? String) ?? "" }
            #expect(text("flow-run").contains("mixed-outcomes") && text("flow-run").contains("TimedOut"), "\(text("flow-run"))")
            #expect(text("flow-run").contains(#""squares" : 20"#) || text("flow-run").contains(#""squares": 20"#),
                    "its parameters: \(text("flow-run"))")
            #expect((pages["flow-run"] as? [String: Any])?["dependencies"] as? Int == 1, "chatty's waitFor on flaky, drawn")
            #expect(text("flow-runs").contains("training-pipeline") && text("flow-runs").contains("hostile-text"))
            #expect(text("artifacts").contains("model-comparison") && text("artifacts").contains("R²"), "\(text("artifacts"))")
            #expect(text("workers").contains("online"), "\(text("workers"))")
            #expect(text("dashboard").contains("Failed recently") && text("dashboard").contains("hostile-text"))
            let demo = try await Browser.run("pages", seeded.root, [seeded.demo])
            let demoRun = ((demo["flow-run"] as? [String: Any])?["text"] as? String) ?? ""
            #expect(demoRun.contains("model-comparison") && demoRun.contains("alpha") && demoRun.contains("promoted"), "\(demoRun)")
        }
    }

    @Test("filtering the flow-run list by state shows only those runs, and the URL keeps the filter across a reload")
    func filterByState() async throws {
        let seeded = try await Self.seeded("ui-filter")
        try await disposing(seeded.dispose) {
            let result = try await Browser.run("filter", seeded.root, ["Failed"])
            let rows = result["rows"] as? [String] ?? []
            #expect(!rows.isEmpty && rows.allSatisfy { $0 == "Failed" }, "\(rows)")
            #expect((result["url"] as? String)?.contains("state=Failed") == true)
            #expect(result["rowsAfterReload"] as? [String] == rows && result["checkedAfterReload"] as? Bool == true)
            #expect(Self.problems(result).isEmpty, "\(Self.problems(result))")
        }
    }

    @Test("a task whose run name, log line, markdown artifact and error hold <script>, <img onerror> and javascript: links: the page shows them as text and runs nothing")
    func hostileTextStaysText() async throws {
        let seeded = try await Self.seeded("ui-hostile")
        try await disposing(seeded.dispose) {
            let result = try await Browser.run("hostile", seeded.root, [seeded.hostile])
            let text = result["text"] as? String ?? ""
            #expect(result["ran"] as? Bool == false && result["images"] as? Int == 0 && result["scripts"] as? Int == 0)
            #expect((result["javascriptLinks"] as? [String])?.isEmpty == true, "\(result)")
            #expect((result["httpsLinks"] as? [String])?.isEmpty == false, "the artifact's https link is a link")
            #expect(text.contains("echo \(Self.payload)") || text.contains("echo \"\(Self.payload)\""), "the run name, as text")
            #expect(text.contains("refused: \(Self.payload)"), "the errors (the task run's, the flow run's), as text")
            #expect(text.contains("echo: \(Self.payload)"), "the log line, as text")
            #expect(text.contains("[a link](javascript:alert(1))"), "the javascript: link stays text")
            #expect(Self.problems(result).isEmpty, "\(Self.problems(result))")
        }
    }

    @Test("with --api-key, the UI shows nothing but a form for the key; with the key, everything")
    func apiKey() async throws {
        let seeded = try await Self.seeded("ui-key", extraArguments: ["--api-key", "ui-s3cret"])
        try await disposing(seeded.dispose) {
            let (status, _) = try await seeded.server.request("/flow-runs")
            #expect(status == 401)
            let result = try await Browser.run("key", seeded.root, ["ui-s3cret"])
            let before = result["before"] as? String ?? ""
            #expect(before.contains("API key") && !before.contains("mixed-outcomes") && result["rowsBefore"] as? Int == 0)
            #expect((result["rowsAfter"] as? Int ?? 0) >= 3)
            #expect(Self.problems(result).isEmpty, "\(Self.problems(result))")
        }
    }

    @Test("a flow run with 100,000 task runs: its page draws its first content, its timeline (counted per time slice) and its first table page; the time it took and the renderer's memory are printed for benchmarks/RESULTS.md")
    func bigFlowRun() async throws {
        let database = FileManager.default.temporaryDirectory.appendingPathComponent("trib-ui-big-\(UUID()).db").path
        let store = try await RunStores.open(database)
        try await SyntheticRuns.bigRun("big", taskRuns: 100_000, into: store)
        await store.close()
        let server = try await ServerProcess(label: "ui-big", database: database, broker: nil)
        try await disposing(server.dispose) {
            let result = try await Browser.run("big", String(server.apiURL.dropLast("/api".count)), ["big"])
            #expect(Self.problems(result).isEmpty, "\(Self.problems(result))")
            let usable = try #require(result["usableSeconds"] as? Double)
            let renderer = (result["rendererBytes"] as? Int ?? 0) / 1_048_576
            print("UI, a flow run of 100,000 task runs (debug server): first content \(result["firstContentSeconds"] ?? "?") s, "
                + "usable \(usable) s, renderer \(renderer) MB (PSS), JS heap \((result["jsHeapBytes"] as? Int ?? 0) / 1_048_576) MB, "
                + "DOM nodes \(result["nodes"] ?? "?")")
            let detail = try await server.get("/flow-runs/big", as: FlowRunDetail.self)
            #expect(detail.taskRunCounts == ["Completed": 98_000, "Failed": 2_000])
        }
    }

    @Test("the Deployments page lists a deployment; its page runs it now with parameters typed in, shows the run completed, and pauses it")
    func deploymentsPage() async throws {
        let setup = try await DeploymentTests.Setup.start("uidep")
        try await disposing({ await setup.dispose() }) {
            let name = "ui-\(setup.queue.suffix(6))"
            try await setup.deployment(["create", name, "--flow", "checkpoint", "--work-queue", setup.workQueue,
                                        "--params", #"{"label": "default"}"#, "--description", "shown in the UI"])
            let root = String(setup.server.apiURL.dropLast("/api".count))
            let seen = try await Browser.run("deployments", root, [name])
            #expect((seen["listed"] as? String)?.contains("checkpoint") == true, "\(seen)")
            #expect((seen["detail"] as? String)?.contains("shown in the UI") == true)
            #expect(seen["paused"] as? Bool == true)
            #expect(Self.problems(seen).isEmpty, "\(Self.problems(seen))")
            let detail = try await setup.detail(name)
            #expect(detail.deployment.paused, "the Pause button paused it")
            let run = try #require(detail.recent.first { $0.origin == "manual" })
            #expect(run.parameters == .object(["label": .string("from the browser")]), "\(run)")
            #expect(run.state == "Completed")
        }
    }

    @Test("a running flow's page: the progress bar's counts move without a reload and end at the right counts; the Cancel button asks, then cancels a running run, which ends Cancelled in the store")
    func liveProgressAndCancel() async throws {
        let queue = TestBroker.uniqueQueue("uilive"), workQueue = TestBroker.uniqueQueue("uilivewq")
        let server = try await ServerProcess(label: "ui-live")
        let worker = try await disposingOnFailure({ await server.dispose() }) {
            try await WorkerProcess(id: "ui-live-w-\(queue.suffix(6))", queue: queue, concurrency: 4, environment: Self.events)
        }
        let agent = try await disposingOnFailure({ await worker.dispose(); await server.dispose() }) {
            try await WorkerProcess.agent(id: "ui-live-a-\(workQueue.suffix(6))", workQueue: workQueue,
                                          environment: Self.events)
        }
        let client = Tributary(broker: TestBroker.url, publishesEvents: true)
        try await disposing({
            await client.close()
            for process in [worker, agent] { await process.dispose() }
            await server.dispose()
        }) {
            try await watchAndCancel(server: server, client: client, queue: queue, workQueue: workQueue)
        }
    }

    private func watchAndCancel(server: ServerProcess, client: Tributary, queue: String, workQueue: String) async throws {
        let root = String(server.apiURL.dropLast("/api".count))
        // 200 tasks of 250 ms on 4 slots: about 12 s of progress to watch (the browser takes seconds to start).
        let live = try await client.submit(SlowFanout.self, SlowFanout.Input(count: 200, milliseconds: 250, queue: queue),
                                           workQueue: workQueue)
        try await waitUntil("the run recorded", within: .seconds(20)) {
            try await server.request("/flow-runs/\(live.id)").status == 200
        }
        let watched = try await Browser.run("live", root, [live.id, "40"])
        let samples = (watched["samples"] as? [[String: Int]] ?? []).map { $0.values.reduce(0, +) }
        let completed = (watched["samples"] as? [[String: Int]])?.map { $0["Completed"] ?? 0 } ?? []
        #expect(watched["state"] as? String == "Completed" && watched["sameDocument"] as? Bool == true, "\(watched)")
        #expect(Set(completed).count >= 3, "the Completed count moved through several values: \(completed)")
        #expect(completed.last == 200 && samples.last == 200, "\(samples)")
        #expect(Self.problems(watched).isEmpty, "\(Self.problems(watched))")

        let long = try await client.submit(SlowFanout.self, SlowFanout.Input(count: 400, milliseconds: 200, queue: queue),
                                           workQueue: workQueue)
        try await waitUntil("the long run recorded Running", within: .seconds(20)) {
            let (status, body) = try await server.request("/flow-runs/\(long.id)")
            guard status == 200 else { return false }
            return try JSONDecoder().decode(FlowRunDetail.self, from: body).flowRun.state == "Running"
        }
        let cancelled = try await Browser.run("cancel", root, [long.id])
        #expect((cancelled["question"] as? String)?.contains("Cancel flow run slow-fanout") == true, "\(cancelled)")
        #expect(cancelled["state"] as? String == "Cancelled")
        #expect(try await server.get("/flow-runs/\(long.id)", as: FlowRunDetail.self).flowRun.state == "Cancelled")
        #expect(Self.problems(cancelled).isEmpty, "\(Self.problems(cancelled))")
    }
}
