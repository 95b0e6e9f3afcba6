import Foundation
import Testing
import Tributary
import TributaryExamples
import TributaryServer

/// Deployments on real server, agent and worker processes over RabbitMQ: runs that start on their
/// own at their times, once each.
@Suite("Deployments: runs that start on their own, exactly once")
struct DeploymentTests {
    /// A server, an agent on a work queue and a worker on a task queue, all of the test's own.
    struct Setup {
        let server: ServerProcess
        let agent: WorkerProcess
        let worker: WorkerProcess
        let workQueue: String
        let queue: String

        static func start(_ label: String, database: String? = nil, serverArguments: [String] = [],
                          agentConcurrency: Int = 4) async throws -> Setup {
            let queue = TestBroker.uniqueQueue(label), workQueue = TestBroker.uniqueQueue(label + "wq")
            let server = try await ServerProcess(label: label, database: database, extraArguments: serverArguments)
            return try await disposingOnFailure({ await server.dispose() }) {
                let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue, concurrency: 8)
                return try await disposingOnFailure({ await worker.dispose() }) {
                    let agent = try await WorkerProcess.agent(id: "a-\(workQueue.suffix(6))", workQueue: workQueue,
                                                              concurrency: agentConcurrency,
                                                              environment: ["TRIB_EVENTS": "on"])
                    return Setup(server: server, agent: agent, worker: worker, workQueue: workQueue, queue: queue)
                }
            }
        }

        func dispose() async {
            await agent.dispose()
            await worker.dispose()
            await server.dispose()
        }

        /// `trib deployment ...` against this server; throws with its output unless it exits 0.
        @discardableResult
        func deployment(_ arguments: [String], api: String? = nil) async throws -> String {
            let result = try await Command.trib(["deployment"] + arguments,
                                                environment: ["TRIB_API_URL": api ?? server.apiURL])
            try Command.require(result)
            return result.output
        }

        /// `slow-fanout`'s input on this setup's task queue.
        func parameters(count: Int, milliseconds: Int = 10) -> String {
            #"{"count": \#(count), "milliseconds": \#(milliseconds), "queue": "\#(queue)"}"#
        }

        func detail(_ name: String, on server: ServerProcess? = nil) async throws -> DeploymentDetail {
            try await (server ?? self.server).get("/deployments/\(name)?limit=200", as: DeploymentDetail.self)
        }

        /// The deployment's pushed runs that the server has recorded as `state`.
        func runs(_ name: String, in state: String, on server: ServerProcess? = nil) async throws -> [ScheduledRun] {
            try await detail(name, on: server).recent.filter { $0.state == state }
        }
    }

    /// How many times each flow run id appears among `agents`' "flow run started" lines.
    static func starts(in agents: [WorkerProcess]) -> [String: Int] {
        var starts: [String: Int] = [:]
        for agent in agents {
            for line in agent.log.split(separator: "\n") where line.contains("flow run started") {
                guard let range = line.range(of: "flow-run=") else { continue }
                starts[String(line[range.upperBound...].prefix(36)), default: 0] += 1
            }
        }
        return starts
    }

    @Test("a deployment on a 1-second interval runs on an agent once per scheduled time, with its parameters; paused it stops, a run by hand goes with its parameters overridden, and resumed it does not back-fill")
    func intervalPauseResumeRunNow() async throws {
        let setup = try await Setup.start("dep")
        try await disposing({ await setup.dispose() }) {
            let name = "tick-\(setup.queue.suffix(6))"
            try await setup.deployment(["create", name, "--flow", "slow-fanout", "--interval", "1",
                                        "--params", setup.parameters(count: 2), "--work-queue", setup.workQueue])
            try await waitUntil("5 scheduled runs completed", within: .seconds(30)) {
                try await setup.runs(name, in: "Completed").count >= 5
            }
            let completed = try await setup.runs(name, in: "Completed")
            let times = completed.map(\.scheduledAt)
            #expect(Set(times).count == times.count, "one run per scheduled time")
            #expect(times.allSatisfy { $0.rounded() == $0 }, "on the 1-second grid: \(times)")
            #expect(completed.allSatisfy { $0.origin == "schedule" })
            for run in completed.prefix(3) {
                let detail = try await setup.server.get("/flow-runs/\(run.flowRunID)", as: FlowRunDetail.self)
                let input = detail.flowRun.parameters.flatMap {
                    try? JSONDecoder().decode(SlowFanout.Input.self, from: Data($0.utf8))
                }
                #expect(input?.count == 2 && input?.queue == setup.queue, "its parameters: \(detail.flowRun)")
                #expect(detail.flowRun.result == "3", "1 + 2")
                #expect(detail.flowRun.deploymentID == run.deploymentID)
                #expect(detail.states.first?.state == "Scheduled", "\(detail.states.map(\.state))")
            }

            try await setup.deployment(["pause", name])
            let pausedAt = Date().timeIntervalSince1970
            let ranByHand = try await setup.deployment(["run", name, "--param", "count=4", "--json"])
            let manual = try JSONDecoder().decode(ScheduledRun.self, from: Data(ranByHand.utf8))
            try await waitUntil("the run by hand completed", within: .seconds(30)) {
                try await setup.runs(name, in: "Completed").contains { $0.flowRunID == manual.flowRunID }
            }
            let byHand = try await setup.server.get("/flow-runs/\(manual.flowRunID)", as: FlowRunDetail.self)
            #expect(byHand.flowRun.result == "10", "1 + 2 + 3 + 4: its count overridden")
            try await Task.sleep(for: .seconds(3))
            let whilePaused = try await setup.detail(name)
            #expect(whilePaused.recent.filter { $0.origin == "schedule" && $0.scheduledAt > pausedAt + 1 }.isEmpty,
                    "no scheduled run pushed while paused")
            #expect(whilePaused.upcoming.isEmpty && whilePaused.deployment.paused)

            try await setup.deployment(["resume", name])
            let resumedAt = Date().timeIntervalSince1970
            try await waitUntil("scheduled runs after resuming", within: .seconds(30)) {
                try await setup.runs(name, in: "Completed").contains { $0.scheduledAt > resumedAt }
            }
            let gap = try await setup.detail(name).recent.filter {
                $0.origin == "schedule" && $0.scheduledAt > pausedAt + 1 && $0.scheduledAt < resumedAt - 1
            }
            #expect(gap.isEmpty, "resuming did not back-fill: \(gap)")
            #expect(Self.starts(in: [setup.agent]).values.allSatisfy { $0 == 1 }, "no run started twice")
        }
    }

    @Test("a deployment's run limit: its runs of 2.5 s every second never overlap, though the agent could run 4 at once")
    func runLimit() async throws {
        let setup = try await Setup.start("deplimit")
        try await disposing({ await setup.dispose() }) {
            let name = "limited-\(setup.queue.suffix(6))"
            try await setup.deployment(["create", name, "--flow", "slow-fanout", "--interval", "1", "--run-limit", "1",
                                        "--params", setup.parameters(count: 1, milliseconds: 2500),
                                        "--work-queue", setup.workQueue])
            try await waitUntil("3 runs completed", within: .seconds(40)) {
                try await setup.runs(name, in: "Completed").count >= 3
            }
            var spans: [(Double, Double)] = []
            for run in try await setup.runs(name, in: "Completed") {
                let record = try await setup.server.get("/flow-runs/\(run.flowRunID)", as: FlowRunDetail.self).flowRun
                spans.append((try #require(record.startedAt), try #require(record.endedAt)))
            }
            spans.sort { $0.0 < $1.0 }
            for (earlier, later) in zip(spans, spans.dropFirst()) {
                #expect(later.0 >= earlier.1 - 0.05, "one at a time: \(spans)")
            }
        }
    }

    @Test("two servers on one PostgreSQL schedule 3 deployments every second: every due time runs once, none twice, none missed")
    func twoServersOnePostgres() async throws {
        let database = try await TestPostgres.createDatabase()
        let setup = try await Setup.start("deppg", database: database)
        try await disposing({
            await setup.dispose()
            await TestPostgres.drop(database)
        }) {
            let second = try await ServerProcess(label: "deppg2", database: database, eventsQueue: setup.server.eventsQueue)
            try await disposing({ await second.process.dispose() }) {
                let names = (0..<3).map { "pg\($0)-\(setup.queue.suffix(6))" }
                for (index, name) in names.enumerated() {
                    try await setup.deployment(["create", name, "--flow", "slow-fanout", "--interval", "1",
                                                "--params", setup.parameters(count: 1), "--work-queue", setup.workQueue],
                                               api: index == 1 ? second.apiURL : nil)
                }
                try await waitUntil("10 completed runs of each deployment", within: .seconds(60)) {
                    for name in names where try await setup.runs(name, in: "Completed").count < 10 { return false }
                    return true
                }
                for name in names { try await setup.deployment(["pause", name]) }
                try await Task.sleep(for: .seconds(2))
                let starts = Self.starts(in: [setup.agent])
                for name in names {
                    let pushed = try await setup.detail(name, on: second).recent.filter { $0.origin == "schedule" }
                    let times = pushed.map(\.scheduledAt).sorted()
                    let first = try #require(times.first), last = try #require(times.last)
                    #expect(times == Array(stride(from: first, through: last, by: 1)), "every second once: \(times)")
                    try await waitUntil("\(name)'s runs all ended", within: .seconds(20)) {
                        try await setup.detail(name).recent.allSatisfy { $0.state == "Completed" }
                    }
                    for run in pushed {
                        #expect(starts[run.flowRunID] == 1, "\(run.flowRunID) started \(starts[run.flowRunID] ?? 0) times")
                    }
                }
            }
        }
    }

    @Test("a server killed and restarted across 5 due times: missed runs follow each deployment's catch-up policy (all, latest, none), and none runs twice")
    func catchupAfterRestart() async throws {
        let database = FileManager.default.temporaryDirectory.appendingPathComponent("trib-catchup-\(UUID().uuidString).db").path
        let setup = try await Setup.start("depcu", database: database, serverArguments: ["--late-after", "2"])
        try await disposing({ await setup.dispose() }) {
            let policies = ["all", "latest", "none"]
            for policy in policies {
                try await setup.deployment(["create", "\(policy)-\(setup.queue.suffix(6))", "--flow", "slow-fanout",
                                            "--interval", "1", "--catchup", policy,
                                            "--params", setup.parameters(count: 1), "--work-queue", setup.workQueue])
            }
            let createdAt = Date().timeIntervalSince1970
            try await Task.sleep(for: .seconds(3))
            // Read before the kill: seeing the process gone can take seconds on a loaded machine.
            let killedAt = Date().timeIntervalSince1970
            #expect(await setup.server.process.killHard())
            try await Task.sleep(for: .seconds(7))
            let restarted = try await ServerProcess(label: "depcu2", database: database,
                                                    eventsQueue: setup.server.eventsQueue,
                                                    extraArguments: ["--late-after", "2"])
            try await disposing({ await restarted.process.dispose() }) {
                let line = try #require(restarted.process.log.split(separator: "\n").first { $0.contains("catch-up policy") })
                func number(_ key: String) -> Double? {
                    line.range(of: "\(key)=").flatMap { Double(line[$0.upperBound...].prefix { !$0.isWhitespace }) }
                }
                let window = try #require(number("from")) ... (try #require(number("to")))
                // The server notes it is alive twice a second; on a loaded machine its last note can
                // come a second or two before the kill, but always after the deployments were made.
                #expect(window.lowerBound > createdAt && window.lowerBound < killedAt,
                        "its last tick before the kill (deployments made at \(createdAt), killed at \(killedAt)): \(line)")
                try await Task.sleep(for: .seconds(4))
                for policy in policies { try await setup.deployment(["pause", "\(policy)-\(setup.queue.suffix(6))"], api: restarted.apiURL) }
                try await Task.sleep(for: .seconds(3))
                let starts = Self.starts(in: [setup.agent])
                for policy in policies {
                    let runs = try await setup.detail("\(policy)-\(setup.queue.suffix(6))", on: restarted).recent
                        .filter { $0.origin == "schedule" }
                    // Due while no scheduler ran, beyond the 2-second grace of the restart, as the server
                    // says; not the ones the killed server claimed (to push) between its last tick and its death.
                    let missed = runs.filter { run in
                        window.contains(run.scheduledAt) && !(run.claimedAt.map { $0 < killedAt } ?? false)
                    }
                    let ran = missed.filter { $0.status != "skipped" }, skipped = missed.filter { $0.status == "skipped" }
                    #expect(missed.count >= 4, "\(policy): \(missed.count) runs fell due while the server was down")
                    switch policy {
                    case "all": #expect(skipped.isEmpty, "all: every missed run started")
                    case "latest":
                        #expect(ran.count == 1 && ran.first?.scheduledAt == missed.map(\.scheduledAt).max(),
                                "latest: only the latest missed run started: \(missed)")
                    default: #expect(ran.isEmpty, "none: no missed run started: \(missed)")
                    }
                    #expect(skipped.allSatisfy { $0.state == "Cancelled" }, "skipped runs are recorded Cancelled")
                    for run in runs where run.status != "skipped" {
                        #expect((starts[run.flowRunID] ?? 0) <= 1, "\(run.flowRunID) started twice")
                    }
                }
                let skippedRun = try await setup.detail("none-\(setup.queue.suffix(6))", on: restarted).recent
                    .first { $0.status == "skipped" }
                let record = try await restarted.get("/flow-runs/\(try #require(skippedRun).flowRunID)", as: FlowRunDetail.self)
                #expect(record.flowRun.error?.contains("catch-up policy 'none'") == true, "\(record.flowRun)")
            }
        }
    }

    @Test("triggers: A → B on completion and A → C on failure, each once with A's parameters; a run of a flow that ends while the server is down triggers once after it restarts")
    func triggers() async throws {
        let database = FileManager.default.temporaryDirectory.appendingPathComponent("trib-trig-\(UUID().uuidString).db").path
        let setup = try await Setup.start("deptrig", database: database)
        try await disposing({ await setup.dispose() }) {
            let suffix = String(setup.queue.suffix(6))
            let (a, b, c, e) = ("a-\(suffix)", "b-\(suffix)", "c-\(suffix)", "e-\(suffix)")
            try await setup.deployment(["create", a, "--flow", "checkpoint", "--work-queue", setup.workQueue])
            try await setup.deployment(["create", b, "--flow", "report", "--work-queue", setup.workQueue, "--trigger",
                #"{"deployment": "\#(a)", "parameters": {"upstream": "{{ run.id }}", "note": "{{ run.parameters.label }}"}}"#])
            try await setup.deployment(["create", c, "--flow", "report", "--work-queue", setup.workQueue, "--trigger",
                #"{"deployment": "\#(a)", "states": ["Failed"], "parameters": {"upstream": "{{ run.id }}", "note": "{{ run.state }}"}}"#])
            try await setup.deployment(["create", e, "--flow", "report", "--work-queue", setup.workQueue, "--trigger",
                #"{"flow": "checkpoint", "matchParameters": {"label": "offline"}, "parameters": {"upstream": "{{ run.id }}", "note": "{{ run.result.label }}"}}"#])

            /// The results of a deployment's runs, once it has `count` completed.
            func results(_ name: String, count: Int, on server: ServerProcess) async throws -> [String] {
                try await waitUntil("\(name) has \(count) completed runs", within: .seconds(30)) {
                    try await setup.runs(name, in: "Completed", on: server).count >= count
                }
                var results: [String] = []
                for run in try await setup.runs(name, in: "Completed", on: server) {
                    let record = try await server.get("/flow-runs/\(run.flowRunID)", as: FlowRunDetail.self).flowRun
                    results.append(try JSONDecoder().decode(String.self, from: Data((record.result ?? "null").utf8)))
                }
                return results
            }

            let ran = try JSONDecoder().decode(ScheduledRun.self, from: Data(
                try await setup.deployment(["run", a, "--param", "label=one", "--json"]).utf8))
            #expect(try await results(b, count: 1, on: setup.server) == ["report on \(ran.flowRunID): one"])
            let failed = try JSONDecoder().decode(ScheduledRun.self, from: Data(
                try await setup.deployment(["run", a, "--param", "label=two", "--param", "fail=true", "--json"]).utf8))
            #expect(try await results(c, count: 1, on: setup.server) == ["report on \(failed.flowRunID): Failed"])

            // A run of checkpoint (no deployment) ends while the server is down; its events wait in the broker.
            #expect(await setup.server.process.killHard())
            let client = Tributary(broker: TestBroker.url)
            let offline = try await client.submit(Checkpoint.self, Checkpoint.Input(label: "offline"), workQueue: setup.workQueue)
            #expect(try await offline.result() == Checkpoint.Output(label: "offline", ok: true))
            await client.close()
            let restarted = try await ServerProcess(label: "deptrig2", database: database, eventsQueue: setup.server.eventsQueue)
            try await disposing({ await restarted.process.dispose() }) {
                #expect(try await results(e, count: 1, on: restarted) == ["report on \(offline.id): offline"])
                try await Task.sleep(for: .seconds(3))
                #expect(try await setup.detail(b, on: restarted).recent.count == 1, "B once: the offline run is no run of A")
                #expect(try await setup.detail(c, on: restarted).recent.count == 1, "C once")
                #expect(try await setup.detail(e, on: restarted).recent.count == 1, "E once, however often it looked")
                #expect(Self.starts(in: [setup.agent]).values.allSatisfy { $0 == 1 }, "no run started twice")
            }
        }
    }

    @Test("tributary.yaml applied twice changes nothing the second time; a malformed file gets an error naming its line")
    func deploymentFile() async throws {
        let server = try await ServerProcess(label: "depyaml")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("trib-yaml-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try await disposing({
            await server.dispose()
            try? FileManager.default.removeItem(at: folder)
        }) {
            func deploy(_ yaml: String) async throws -> Command {
                let file = folder.appendingPathComponent("tributary.yaml")
                try yaml.write(to: file, atomically: true, encoding: .utf8)
                return try await Command.trib(["deploy", "--file", file.path], environment: ["TRIB_API_URL": server.apiURL])
            }
            let yaml = """
                # The weekly retraining and its report.
                deployments:
                  - name: retrain-weekly
                    flow: training-pipeline
                    workQueue: ml
                    parameters: {pages: 6, threshold: 0.95, alphas: [0, 0.1, 1]}
                    schedules:
                      - cron: "0 3 * * 1"
                        timezone: Europe/Berlin
                    tags: [ml, weekly]
                  - name: retrain-report
                    flow: report
                    workQueue: ml
                    triggers:
                      - deployment: retrain-weekly
                        states: [Completed, Failed]
                        parameters: {upstream: "{{ run.id }}"}
                """
            let first = try await deploy(yaml)
            #expect(first.status == 0 && first.output.components(separatedBy: "created").count == 3, "\(first.output)")
            let before = try await server.get("/deployments/retrain-weekly", as: DeploymentDetail.self)
            #expect(before.deployment.schedules == [.cron(try CronSchedule("0 3 * * 1", timeZone: "Europe/Berlin"))])
            #expect(before.deployment.parameters == .object(["pages": .number(6), "threshold": .number(0.95),
                                                             "alphas": .array([.number(0), .number(0.1), .number(1)])]))
            try await waitUntil("the weekly runs made ahead", within: .seconds(30)) {
                try await server.get("/deployments/retrain-weekly", as: DeploymentDetail.self).upcoming.count == 10
            }
            let upcoming = try await server.get("/deployments/retrain-weekly", as: DeploymentDetail.self).upcoming
            let second = try await deploy(yaml)
            #expect(second.status == 0 && second.output.components(separatedBy: "unchanged").count == 3, "\(second.output)")
            let after = try await server.get("/deployments/retrain-weekly", as: DeploymentDetail.self)
            #expect(after.deployment == (try await server.get("/deployments/retrain-weekly", as: DeploymentDetail.self)).deployment)
            #expect(after.deployment.updatedAt == before.deployment.updatedAt)
            #expect(after.upcoming.map(\.flowRunID) == upcoming.map(\.flowRunID), "its scheduled runs stayed as they were")

            // The work queue shows them, soonest first (Prefect's `work-queue preview`).
            let preview = try await Command.trib(["work-queue", "preview", "ml", "--limit", "3", "--json"],
                                                 environment: ["TRIB_API_URL": server.apiURL])
            let due = try JSONDecoder().decode([ScheduledRun].self, from: Data(preview.output.utf8))
            #expect(due.map(\.flowRunID) == Array(upcoming.prefix(3).map(\.flowRunID)), "\(preview.output)")
            #expect(due.allSatisfy { $0.deployment == "retrain-weekly" })
            let queues = try await Command.trib(["work-queue", "ls"], environment: ["TRIB_API_URL": server.apiURL])
            #expect(queues.output.split(separator: "\n").contains { $0.hasPrefix("ml ") && $0.hasSuffix(" 10") },
                    "\(queues.output)")

            let broken: [(String, String)] = [
                ("deployments:\n  - name: a\n    flow: f\n     schedules: []\n", "is not YAML"),
                ("deployments:\n  - name: a\n    flow: f\n  - name: b\n    flow: g\n    schedules:\n      - cron: \"0 3 * *\"\n",
                 "tributary.yaml:4: cron '0 3 * *' has 4 fields"),
                ("deployments:\n  - name: a\n    schedules: [{interval: 60}]\n", "tributary.yaml:2: 'flow' is missing"),
                ("deployments:\n  - name: a\n    flow: f\n    schedules: [{cron: '@daily', timezone: Atlantis}]\n",
                 "time zone 'Atlantis' is not known"),
                ("deploy:\n  - name: a\n", "needs a 'deployments:' list"),
            ]
            for (text, message) in broken {
                let result = try await deploy(text)
                #expect(result.status != 0 && result.output.contains(message), "\(message): \(result.output)")
            }
            let list = try await server.get("/deployments", as: DeploymentList.self)
            #expect(list.items.map(\.deployment.name) == ["retrain-report", "retrain-weekly"], "nothing of the broken files applied")
        }
    }

    @Test("malformed deployments, cron strings, time zones and parameters get an error naming what is wrong")
    func malformed() async throws {
        let server = try await ServerProcess(label: "depbad")
        try await disposing({ await server.dispose() }) {
            let cases: [([String], String)] = [
                (["create", "x", "--flow", "f", "--cron", "0 3 * *"], "has 4 fields"),
                (["create", "x", "--flow", "f", "--cron", "0 3 * * 1", "--timezone", "Mars/Base"], "time zone 'Mars/Base' is not known"),
                (["create", "x y", "--flow", "f"], "deployment name 'x y'"),
                (["create", "x", "--flow", "f", "--params", "{nope"], "--params '{nope' is not JSON"),
                (["create", "x", "--flow", "f", "--interval", "0"], "1 second to 10 years"),
                (["run", "nothing-here"], "no deployment 'nothing-here'"),
                (["create", "x", "--flow", "f", "--trigger", #"{"states": ["Completed"]}"#], #"needs one of "deployment""#),
                (["create", "x", "--flow", "f", "--trigger", #"{"flow": "g", "states": ["Done"]}"#], "state 'Done'"),
            ]
            for (arguments, message) in cases {
                let result = try await Command.trib(["deployment"] + arguments, environment: ["TRIB_API_URL": server.apiURL])
                #expect(result.status != 0 && result.output.contains(message), "\(arguments): \(result.output)")
            }
            // From code: the same, through the client.
            let client = Tributary.local(Examples.registry)
            let deployed = try await client.deploy(DeploymentSpec(
                name: "from-code", flow: "report", parameters: .object(["upstream": .string("none")]),
                schedules: [.cron(try CronSchedule("0 3 * * 1", timeZone: "Europe/Berlin"))]), apiURL: server.apiURL)
            // As saved, but for how far ahead the scheduler may have made its runs meanwhile.
            var read = try await server.get("/deployments/from-code", as: DeploymentDetail.self).deployment
            read.scheduledThrough = deployed.scheduledThrough
            #expect(read == deployed)
            await #expect(throws: ScheduleError.self) {
                try await client.deploy(DeploymentSpec(name: "no good", flow: "report"), apiURL: server.apiURL)
            }
            let body = Data(#"{"name": "x", "flow": "f", "schedules": [{"cron": "61 * * * *"}]}"#.utf8)
            let (status, answer) = try await server.request("/deployments", method: "POST", body: body)
            #expect(status == 400 && ServerProcess.message(in: answer)?.contains("minute field '61'") == true,
                    "\(String(decoding: answer, as: UTF8.self))")
            let apiCases: [(String, String, String?, String)] = [
                ("POST", "/deployments", #"{"name": "x", "flow": "f", "schedules": [{"cron": "0 3 * * *", "interval": 60}]}"#,
                 "not both"),
                ("POST", "/deployments", #"{"name": "x", "flow": "f", "schedules": [{"interval": 1e12}]}"#, "10 years"),
                ("POST", "/deployments", #"{"name": "x", "flow": "f", "schedules": [{"interval": 60, "timezone": "UTC"}]}"#,
                 #""timezone" goes with "cron""#),
                ("POST", "/deployments", #"{"name": "zürich", "flow": "f"}"#, "ASCII letters"),
                ("POST", "/deployments/from-code/resume?backfill=yes", nil, "backfill 'yes' must be true or false"),
            ]
            for (method, path, text, message) in apiCases {
                let (status, answer) = try await server.request(path, method: method, body: text.map { Data($0.utf8) })
                #expect(status == 400 && ServerProcess.message(in: answer)?.contains(message) == true,
                        "\(path): \(String(decoding: answer, as: UTF8.self))")
            }
        }
    }
}
