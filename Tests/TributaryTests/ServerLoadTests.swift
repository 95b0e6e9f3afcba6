import Foundation
import Synchronization
import Testing
import Tributary
import TributaryExamples
import TributaryServer

/// The server under load on SQLite (recording, reading and deleting at once) and fuzzed through its
/// API: tests that load the machine, in a pass of their own (deploy/test.sh).
@Suite("The server under load")
struct ServerLoadTests {
    @Test("the OpenAPI document the server serves, fuzzed by schemathesis (every check, 25 cases an operation, on a server with a broker): no 5xx, every answer as the document says, undeclared methods 405")
    func fuzzedByOpenAPIDocument() async throws {
        let server = try await ServerProcess(label: "fuzz", database: try await ServerAPITests.filledStore(taskRuns: 200))
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("trib-fuzz-\(UUID())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        // Not fuzzed: cancel (each unanswered request waits 5 s for the run's client), submit and
        // the deployments (each would leave a work queue of a made-up name on the broker): the agent
        // tests cover the first two, and the next test fuzzes the deployments on a server with no broker.
        let run = try await Command.run(URL(fileURLWithPath: "/usr/bin/env"), [
            "schemathesis", "run", server.apiURL + "/openapi.json", "--url", server.apiURL, "--checks", "all",
            "--exclude-operation-id", "cancelFlowRun", "--exclude-operation-id", "submitFlowRun",
            "--exclude-path-regex", "^/deployments",
            "--max-examples", "25", "--seed", "7", "--no-color",
            "--report-dir", work.path,
        ], environment: ["HOME": work.path])
        #expect(run.status == 0, "\(run.output.suffix(4_000))")
        #expect(run.output.contains("passed") && !run.output.contains("failed"), "\(run.output.suffix(4_000))")
        await server.dispose()
    }

    @Test("the deployments' endpoints, fuzzed by schemathesis on a server with no broker (its scheduler makes their runs but pushes none): no 5xx, every answer as the document says, what the document forbids refused")
    func deploymentsFuzzedByOpenAPIDocument() async throws {
        let server = try await ServerProcess(label: "fuzzdep", broker: nil)
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("trib-fuzzdep-\(UUID())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        // Every check but one: JSON Schema cannot say which cron expressions and time zones are
        // real, or that a trigger names a deployment or a flow, so data the document allows can
        // still be refused (with a 400 naming what is wrong), and positive_data_acceptance would
        // flag it. Data the document forbids must be refused (negative_data_rejection).
        let run = try await Command.run(URL(fileURLWithPath: "/usr/bin/env"), [
            "schemathesis", "run", server.apiURL + "/openapi.json", "--url", server.apiURL, "--checks", "all",
            "--exclude-checks", "positive_data_acceptance", "--include-path-regex", "^/deployments|/preview$",
            "--max-examples", "25", "--seed", "7", "--no-color",
            "--report-dir", work.path, "--report", "har", "--report-har-path", work.appendingPathComponent("run.har").path,
        ], environment: ["HOME": work.path])
        #expect(run.status == 0, "\(run.output.suffix(4_000))")
        #expect(run.output.contains("passed") && !run.output.contains("failed"), "\(run.output.suffix(4_000))")
        // The fuzzing did make deployments (its stateful phase may delete them again, depending on
        // timing, so the list at the end may be empty): the server answered 201 Created to some.
        let created = try Self.createdDeployments(har: work.appendingPathComponent("run.har"))
        #expect(created > 0, "schemathesis created no deployment:\n\(run.output.suffix(2_000))")
        _ = try await server.get("/deployments", as: DeploymentList.self)
        await server.dispose()
    }

    /// How many `POST /deployments` a schemathesis HAR report shows answered 201 Created.
    static func createdDeployments(har: URL) throws -> Int {
        struct Report: Decodable {
            struct Log: Decodable { let entries: [Entry] }
            struct Entry: Decodable { let request: Request; let response: Response }
            struct Request: Decodable { let method: String; let url: String }
            struct Response: Decodable { let status: Int }
            let log: Log
        }
        let report = try JSONDecoder().decode(Report.self, from: Data(contentsOf: har))
        return report.log.entries.filter {
            $0.request.method == "POST" && $0.request.url.hasSuffix("/deployments") && $0.response.status == 201
        }.count
    }

    @Test("for a minute, flows recorded while 4 readers page the API and retention (2 s) deletes runs: no request fails, no database is locked, nothing fails to record")
    func ingestReadAndRetainAtOnce() async throws {
        let queue = TestBroker.uniqueQueue("load")
        let server = try await ServerProcess(label: "load", extraArguments: ["--retention", "2s"])
        let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue, concurrency: 8)
        let client = Tributary(broker: TestBroker.url, publishesEvents: true)
        let deadline = ContinuousClock.now + .seconds(60)
        let tally = Tally()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while ContinuousClock.now < deadline {
                    let total = try await client.run(flowNamed: "load") { flow in
                        try await flow.map(Square.self, over: 0..<200, options: TaskOptions(queue: queue)).values()
                            .reduce(0, +)
                    }
                    #expect(total == (0..<200).map { $0 * $0 }.reduce(0, +))
                    tally.count { $0.flows += 1 }
                }
            }
            for _ in 0..<4 {
                group.addTask {
                    while ContinuousClock.now < deadline {
                        let (status, body) = try await server.request("/flow-runs?flow=load&limit=20")
                        tally.count { $0.requests += 1 }
                        guard status == 200 else {
                            tally.count { $0.failures.append("list \(status): \(String(decoding: body, as: UTF8.self))") }
                            continue
                        }
                        let page = try JSONDecoder().decode(FlowRunPage.self, from: body)
                        for run in page.items.prefix(3) {
                            // A run retention deleted since the list is a 404; anything else must be 200.
                            for path in ["/flow-runs/\(run.id)", "/flow-runs/\(run.id)/task-runs?limit=100",
                                         "/flow-runs/\(run.id)/logs"] {
                                let (status, body) = try await server.request(path)
                                tally.count { $0.requests += 1 }
                                if status != 200 && status != 404 {
                                    tally.count { $0.failures.append("\(path) \(status): \(String(decoding: body, as: UTF8.self))") }
                                }
                            }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        await client.close()
        let seen = tally.now
        #expect(seen.failures.isEmpty, "\(seen.failures.prefix(5))")
        #expect(seen.flows > 5 && seen.requests > 100, "\(seen.flows) flows, \(seen.requests) requests")
        let log = server.process.log
        #expect(!log.contains("database is locked") && !log.contains("could not record")
                && !log.contains("could not delete"), "\(log.suffix(2_000))")
        #expect(log.contains("deleted runs past the retention"), "retention ran")
        await worker.dispose()
        await server.dispose()
    }
}

/// What the load test's tasks did, counted across them.
final class Tally: Sendable {
    struct Counts {
        var flows = 0, requests = 0
        var failures: [String] = []
    }

    private let counts = Mutex(Counts())
    var now: Counts { counts.withLock { $0 } }
    func count(_ change: (inout Counts) -> Void) { counts.withLock { change(&$0) } }
}

struct FlowRunPage: Decodable {
    struct Item: Decodable { var id: String }
    var items: [Item]
}
