import Foundation
import Testing
import Tributary
import TributaryExamples

/// Lowers the broker's own delivery acknowledgement timeout, so deploy/test.sh runs this suite on
/// its own, after the rest (the other suites' workers would meet it too).
@Suite("A task held past the broker's delivery timeout", .serialized,
       .enabled(if: ProcessInfo.processInfo.environment["TRIB_SERIAL_TESTS"] == "1"))
struct DeliveryTimeoutTests {
    static let timeoutMs = 3_000
    /// Held deliveries never renewed: what happens when a delivery outlives the timeout anyway.
    static let notRenewing = ["TRIB_RENEW_HELD_AFTER": "off", "TRIB_LOG_LEVEL": "debug"]

    /// A 10-s nap, then two short ones: one of them waits behind the long task in its worker's
    /// prefetch, and is taken back with it. Returns the long one's end and the short ones' reports.
    static func runLongAndShort(on client: Tributary, queue: String) async throws -> (TaskState, [Nap.Report]) {
        try await client.run(flowNamed: "ack-timeout") { (flow: FlowContext) async throws -> (TaskState, [Nap.Report]) in
            let options = TaskOptions(queue: queue)
            let long: TaskFuture<Nap.Report> = await flow.submit(Nap.self, Nap.Input(milliseconds: 10_000), options: options)
            let inputs = [Nap.Input(milliseconds: 200), Nap.Input(milliseconds: 200)]
            let short: [TaskFuture<Nap.Report>] = await flow.map(Nap.self, over: inputs, options: options)
            let state = await long.state
            return (state, try await short.values())
        }
    }

    /// Held deliveries renewed every second, well inside the lowered timeout.
    static let renewing = ["TRIB_RENEW_HELD_AFTER": "1", "TRIB_LOG_LEVEL": "debug"]

    @Test("renewed while it runs, a task longer than the timeout runs once on one of two workers and completes")
    func longTaskRenewedCompletes() async throws {
        let queue = TestBroker.uniqueQueue("renewtask")
        try await withBrokerSettings(["consumer_timeout": Self.timeoutMs, "channel_tick_interval": 500]) {
            let workers = [
                try await WorkerProcess(id: "r0-\(queue.suffix(6))", queue: queue, concurrency: 1, prefetch: 2,
                                        environment: Self.renewing),
                try await WorkerProcess(id: "r1-\(queue.suffix(6))", queue: queue, concurrency: 1, prefetch: 2,
                                        environment: Self.renewing),
            ]
            try await withWorkers(workers) {
                let client = Tributary(broker: TestBroker.url)
                let (long, shortReports) = try await Self.runLongAndShort(on: client, queue: queue)
                await client.close()
                #expect(long.name == "Completed", "\(String(describing: long.failure))")
                #expect(shortReports.count == 2)
                try await Task.sleep(for: .milliseconds(2 * Self.timeoutMs))
                let logs = workers.map(\.log)
                let longStarts = logs.map { log in
                    log.split(separator: "\n").count { $0.contains("task attempt started") && $0.contains(".1 ") }
                }
                #expect(longStarts.reduce(0, +) == 1, "the long task started once in all: \(longStarts)")
                #expect(logs.contains { $0.contains("renewing held deliveries") }, "the long task's delivery was renewed")
                #expect(!logs.contains { $0.contains("past the broker's consumer_timeout") }, "the broker took nothing back")
                for worker in workers { #expect(worker.process.isRunning) }
            }
        }
    }

    @Test("a flow run longer than the timeout runs once, on one of two agents, and completes")
    func longFlowRunStaysOnOneAgent() async throws {
        let queue = TestBroker.uniqueQueue("longrun"), workQueue = TestBroker.uniqueQueue("wq")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("trib-longrun-\(UUID().uuidString).txt").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await withBrokerSettings(["consumer_timeout": Self.timeoutMs, "channel_tick_interval": 500]) {
            let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue, concurrency: 2,
                                                 environment: Self.renewing)
            let agents = [
                try await WorkerProcess.agent(id: "a0-\(workQueue.suffix(6))", workQueue: workQueue, environment: Self.renewing),
                try await WorkerProcess.agent(id: "a1-\(workQueue.suffix(6))", workQueue: workQueue, environment: Self.renewing),
            ]
            try await withWorkers([worker] + agents) {
                let client = Tributary(broker: TestBroker.url)
                // Ten tasks of 1 s one after another: the run's message and its journal are held for
                // over three timeouts.
                let handle = try await client.submit(RecordedFanout.self, RecordedFanout.Input(
                    count: 10, chunk: 1, milliseconds: 1_000, queue: queue, path: path), workQueue: workQueue)
                #expect(try await handle.result() == (0..<10).reduce(0, +))
                let status = try await handle.status()
                await client.close()
                #expect(status.epoch == 1, "no agent took the run over")
                let executions = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n")
                #expect(executions.count == 10, "each task ran once: \(executions)")
                let ran = agents.filter { $0.log.contains("renewing held deliveries") }
                #expect(ran.map(\.id) == [status.agentID].compactMap { $0 }, "the agent that ran it renewed what it held")
                for agent in agents {
                    #expect(agent.logLines(containing: "resuming the flow run from its journal") == 0)
                    #expect(agent.logLines(containing: "another agent has resumed") == 0)
                    #expect(agent.logLines(containing: "the broker handed back a flow run") == 0)
                    #expect(agent.logLines(containing: "delivery acknowledgement") == 0, "the broker closed no channel")
                }
            }
        }
    }

    @Test("not renewed, with two workers it runs once, ends Crashed naming consumer_timeout, and nothing runs again after")
    func longTaskRunsOnce() async throws {
        let queue = TestBroker.uniqueQueue("acktimeout")
        try await withBrokerSettings(["consumer_timeout": Self.timeoutMs, "channel_tick_interval": 500]) {
            let debug = Self.notRenewing
            let workers = [
                try await WorkerProcess(id: "t0-\(queue.suffix(6))", queue: queue, concurrency: 1, prefetch: 2,
                                        environment: debug),
                try await WorkerProcess(id: "t1-\(queue.suffix(6))", queue: queue, concurrency: 1, prefetch: 2,
                                        environment: debug),
            ]
            try await withWorkers(workers) {
                let client = Tributary(broker: TestBroker.url)
                let (long, shortReports) = try await Self.runLongAndShort(on: client, queue: queue)
                await client.close()
                #expect(long.name == "Crashed")
                let failure = long.failure
                #expect(failure?.remoteType == "DeliveryTimedOut")
                #expect(failure?.message.contains("consumer_timeout") == true, "names the setting: \(String(describing: failure))")
                #expect(failure?.message.contains("\(Self.timeoutMs) ms") == true, "names the broker's value")
                #expect(failure?.message.contains("keeps losing its worker") == false)
                #expect(shortReports.count == 2, "the other tasks complete")

                // Several more timeouts' worth: a copy run in the background would have started by now.
                try await Task.sleep(for: .milliseconds(3 * Self.timeoutMs))
                let logs = workers.map(\.log)
                let longStarts = logs.map { log in
                    log.split(separator: "\n").count { $0.contains("task attempt started") && $0.contains(".1 ") }
                }
                #expect(longStarts.reduce(0, +) == 1, "the long task started once in all: \(longStarts)")
                #expect(logs.contains { $0.contains("past the broker's consumer_timeout") && $0.contains("consumer_timeout = ") },
                        "the worker that lost the delivery says what happened and what to set")
                #expect(!logs.contains { $0.contains("keeps losing its worker") })
                for worker in workers { #expect(worker.process.isRunning) }
            }
        }
    }
}
