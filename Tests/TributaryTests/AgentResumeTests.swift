import AMQPClient
import Foundation
import Testing
import Tributary
import TributaryExamples

/// Durable flow runs: an agent that dies mid-run is replaced by another that resumes the same run
/// from its journal, with real agent and worker processes over RabbitMQ.
@Suite("Durable flow runs: another agent resumes a run whose agent died")
struct AgentResumeTests {
    /// The values the `record` tasks wrote to `path`, one line per finished execution.
    static func executions(in path: String) -> [Int] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int($0) }
    }

    static func temporaryPath(_ label: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("trib-\(label)-\(UUID().uuidString).txt").path
    }

    @Test("kill -9 the agent three times in one run of 300 tasks: it completes right, and no task that had finished before a kill runs again")
    func killedThreeTimes() async throws {
        let queue = TestBroker.uniqueQueue("resume"), workQueue = TestBroker.uniqueQueue("wq")
        let path = Self.temporaryPath("resume")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let workers = [
            try await WorkerProcess(id: "w0-\(queue.suffix(6))", queue: queue, concurrency: 8),
            try await WorkerProcess(id: "w1-\(queue.suffix(6))", queue: queue, concurrency: 8),
        ]
        var agents = [
            try await WorkerProcess.agent(id: "a0-\(workQueue.suffix(6))", workQueue: workQueue),
            try await WorkerProcess.agent(id: "a1-\(workQueue.suffix(6))", workQueue: workQueue),
        ]
        let client = Tributary(broker: TestBroker.url)
        // 15 chunks of 20 tasks of 500 ms, at least 10 s in all: the run still goes on at the third
        // kill on a loaded machine, where each new agent takes seconds to start.
        let handle = try await client.submit(RecordedFanout.self, RecordedFanout.Input(
            count: 300, chunk: 20, milliseconds: 500, queue: queue, path: path), workQueue: workQueue)
        var finishedBeforeKills: Set<Int> = []
        var lines = 0, resumed = 0
        for kill in 1...3 {
            // Some progress since the last kill, on an agent that is alive.
            try await waitUntil("progress before kill \(kill)", within: .seconds(60)) {
                let status = try await handle.status()
                return Self.executions(in: path).count >= lines + 30
                    && agents.contains { $0.id == status.agentID && $0.process.isRunning }
            }
            let runner = try await handle.status().agentID
            let victim = try #require(agents.firstIndex { $0.id == runner })
            finishedBeforeKills.formUnion(Self.executions(in: path))
            lines = Self.executions(in: path).count
            #expect(await agents[victim].killHard())
            resumed += agents[victim].logLines(containing: "resuming the flow run from its journal")
            await agents[victim].dispose()
            agents[victim] = try await WorkerProcess.agent(id: "a\(kill + 1)-\(workQueue.suffix(6))", workQueue: workQueue)
        }
        #expect(try await handle.result() == (0..<300).reduce(0, +))
        let executions = Self.executions(in: path)
        var runs: [Int: Int] = [:]
        for value in executions { runs[value, default: 0] += 1 }
        #expect(Set(runs.keys) == Set(0..<300), "every task ran")
        let again = finishedBeforeKills.filter { runs[$0]! > 1 }.sorted()
        #expect(again.isEmpty, "tasks that had finished before a kill ran again: \(again)")
        #expect(finishedBeforeKills.count >= 90, "three kills, each after 30 more finished: \(finishedBeforeKills.count)")
        resumed += agents.map { $0.logLines(containing: "resuming the flow run from its journal") }.reduce(0, +)
        #expect(resumed >= 3, "an agent resumed the run from its journal after each kill: \(resumed)")
        await client.close()
        for process in workers + agents { await process.dispose() }
    }

    @Test("an agent killed after it renewed what it held: the copies go back to the work queue and the journal, and another agent resumes the run without running a finished task again")
    func killedAfterRenewal() async throws {
        let queue = TestBroker.uniqueQueue("renewed"), workQueue = TestBroker.uniqueQueue("wq")
        let path = Self.temporaryPath("renewed")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let renewing = ["TRIB_RENEW_HELD_AFTER": "0.5", "TRIB_LOG_LEVEL": "debug"]
        let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue, concurrency: 4, environment: renewing)
        let first = try await WorkerProcess.agent(id: "first-\(workQueue.suffix(6))", workQueue: workQueue,
                                                  environment: renewing)
        let client = Tributary(broker: TestBroker.url)
        let handle = try await client.submit(RecordedFanout.self, RecordedFanout.Input(
            count: 60, chunk: 2, milliseconds: 300, queue: queue, path: path), workQueue: workQueue)
        // Renewed more than once: the run's message and its oldest results are copies now.
        try await waitUntil("the agent renewed what it held, twice", within: .seconds(30)) {
            first.logLines(containing: "renewing held deliveries") >= 2 && Self.executions(in: path).count >= 10
        }
        let finishedBeforeKill = Set(Self.executions(in: path))
        #expect(await first.killHard())
        let second = try await WorkerProcess.agent(id: "second-\(workQueue.suffix(6))", workQueue: workQueue,
                                                   environment: renewing)
        // Lost copies would leave the run with no agent: bounded, not a hang.
        try await waitUntil("the run ended", within: .seconds(60)) { try await handle.status().state.isFinal }
        #expect(try await handle.result() == (0..<60).reduce(0, +))
        let status = try await handle.status()
        #expect(status.agentID == second.id)
        #expect(status.epoch == 2, "resumed once")
        let runs = Dictionary(grouping: Self.executions(in: path), by: { $0 }).mapValues(\.count)
        #expect(Set(runs.keys) == Set(0..<60), "every task ran")
        let again = finishedBeforeKill.filter { runs[$0]! > 1 }.sorted()
        #expect(again.isEmpty, "tasks that had finished before the kill ran again: \(again)")
        #expect(second.logLines(containing: "resuming the flow run from its journal") == 1)
        await client.close()
        for process in [worker, first, second] { await process.dispose() }
    }

    @Test("two copies of one take of a run's message, on one agent or two: the first claimed runs, the other is dropped, and the result is right; at take 1 as a submit re-sent after a reconnect leaves them, at take 2 as an agent that dies while renewing the message does", arguments: [
        (1, [2]), (1, [1, 1]), (2, [2]), (2, [1, 1]),
    ])
    func duplicateMessageAtOneTake(epoch: Int, agentConcurrencies: [Int]) async throws {
        let queue = TestBroker.uniqueQueue("dup"), workQueue = TestBroker.uniqueQueue("wq")
        let path = Self.temporaryPath("dup")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue, concurrency: 4)
        let client = Tributary(broker: TestBroker.url)
        // withWorkers ends the processes whether the checks pass or not.
        try await withWorkers([worker]) {
            let input = RecordedFanout.Input(count: 40, chunk: 2, milliseconds: 300, queue: queue, path: path)
            let handle = try await client.submit(RecordedFanout.self, input, workQueue: workQueue)
            // The submitted message is taken off its work queue and replaced by two copies of one
            // take: take 1, both fresh (a submit whose confirm a reconnect lost, published again),
            // or take 2 (the first take gone with its agent, its message back twice, both re-counted).
            let connection = try await AMQPConnection.connect(url: TestBroker.url)
            #expect(try await connection.get(queue: AMQPBroker.amqpQueue(forWorkQueue: workQueue)) != nil)
            await connection.close()
            let broker = try await AMQPBroker.connect(url: TestBroker.url)
            let copy = FlowRunMessage(flowRunID: handle.id, flowName: RecordedFanout.name,
                                      input: Array(try JSONEncoder().encode(input)), workQueue: workQueue,
                                      deliveries: epoch)
            try await broker.publish(flowRun: copy)
            try await broker.publish(flowRun: copy)
            await broker.close()
            var agents: [WorkerProcess] = []
            for (index, concurrency) in agentConcurrencies.enumerated() {
                agents.append(try await WorkerProcess.agent(id: "a\(index)-\(workQueue.suffix(6))", workQueue: workQueue,
                                                            concurrency: concurrency))
            }
            try await withWorkers(agents) {
                try await waitUntil("the run ended", within: .seconds(90)) { try await handle.status().state.isFinal }
                #expect(try await handle.result() == (0..<40).reduce(0, +))
                #expect(try await handle.status().epoch == epoch)
                let started = agents.map { $0.logLines(containing: "flow run started") }.reduce(0, +)
                #expect(started == 1, "one copy ran: \(started)")
                try await waitUntil("the other copy was dropped", within: .seconds(30)) {
                    agents.map { $0.logLines(containing: "dropped a second copy of a flow run's message") }
                        .reduce(0, +) == 1
                }
            }
        }
        await client.close()
        let runs = Dictionary(grouping: Self.executions(in: path), by: { $0 }).mapValues(\.count)
        #expect(Set(runs.keys) == Set(0..<40), "every task ran")
        #expect(runs.values.allSatisfy { $0 == 1 }, "no task ran twice: \(runs.filter { $0.value > 1 })")
    }

    @Test("a second copy of a running run's message reaching the agent that runs it: the run goes on there once, and no copy stays held: once the agent has exited, nothing went back to the work queue")
    func secondCopyAdopted() async throws {
        let queue = TestBroker.uniqueQueue("adopt"), workQueue = TestBroker.uniqueQueue("wq")
        let path = Self.temporaryPath("adopt")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue, concurrency: 4)
        let agent = try await WorkerProcess.agent(id: "a-\(workQueue.suffix(6))", workQueue: workQueue, concurrency: 2)
        let client = Tributary(broker: TestBroker.url)
        try await withWorkers([worker, agent]) {
            // Six chunks of 800 ms: the run still goes when the copy arrives, however loaded the machine.
            let input = RecordedFanout.Input(count: 12, chunk: 2, milliseconds: 800, queue: queue, path: path)
            let handle = try await client.submit(RecordedFanout.self, input, workQueue: workQueue)
            try await waitUntil("the agent runs it", within: .seconds(30)) { try await handle.state == .running }
            // A copy of take 1, as a submit re-sent after a reconnect leaves it.
            let broker = try await AMQPBroker.connect(url: TestBroker.url)
            try await broker.publish(flowRun: FlowRunMessage(flowRunID: handle.id, flowName: RecordedFanout.name,
                                                             input: Array(try JSONEncoder().encode(input)),
                                                             workQueue: workQueue, deliveries: 1))
            await broker.close()
            try await agent.waitForLog(containing: "a flow run this agent still runs; it goes on here", within: .seconds(30))
            #expect(try await handle.result() == (0..<12).reduce(0, +))
            await agent.stop()
            #expect(agent.logLines(containing: "flow run started") == 1)
        }
        await client.close()
        let connection = try await AMQPConnection.connect(url: TestBroker.url)
        let left = try await connection.inspect(queue: AMQPBroker.amqpQueue(forWorkQueue: workQueue)).messages
        await connection.close()
        #expect(left == 0, "a copy held until the agent exited went back to the work queue")
        #expect(Self.executions(in: path).count == 12, "no task ran twice")
    }

    @Test("a resumed run whose code now makes different calls runs those calls afresh: no result of another call is handed to it")
    func changedCode() async throws {
        let queue = TestBroker.uniqueQueue("changed"), workQueue = TestBroker.uniqueQueue("wq")
        let path = Self.temporaryPath("changed")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue, concurrency: 8)
        let first = try await WorkerProcess.agent(id: "old-\(workQueue.suffix(6))", workQueue: workQueue)
        let client = Tributary(broker: TestBroker.url)
        // Ten chunks of 400 ms: after the second, the old agent's run has seconds left, so it is
        // still going when the agent is killed, however loaded the machine.
        let handle = try await client.submit(RecordedFanout.self, RecordedFanout.Input(
            count: 80, chunk: 8, milliseconds: 400, queue: queue, path: path), workQueue: workQueue)
        try await waitUntil("some tasks finished", within: .seconds(30)) { Self.executions(in: path).count >= 16 }
        #expect(await first.killHard())
        let executedBeforeKill = Self.executions(in: path).count
        try #require(executedBeforeKill < 80, "the old agent's run was still going when it was killed")
        // The new agent's code doubles every call's factor: the same positions, different calls.
        let changed = try await WorkerProcess.agent(id: "new-\(workQueue.suffix(6))", workQueue: workQueue,
                                                    environment: ["TRIB_EXAMPLE_FACTOR": "2"])
        #expect(try await handle.result() == 2 * (0..<80).reduce(0, +),
                "only the new calls' results count; \(executedBeforeKill) ran before the kill; new agent's log:\n\(changed.log)")
        let runs = Dictionary(grouping: Self.executions(in: path), by: { $0 }).mapValues(\.count)
        #expect(runs[0] == 2, "value 0 ran under the old code and again under the new")
        await client.close()
        for process in [worker, first, changed] { await process.dispose() }
    }

    @Test("a resumed run's flow timeout counts from its first start: resumed past it, the run ends timed out and sends no new task")
    func timeoutCountsFromFirstStart() async throws {
        let queue = TestBroker.uniqueQueue("timeout"), workQueue = TestBroker.uniqueQueue("wq")
        let path = Self.temporaryPath("timeout")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue, concurrency: 1)
        let first = try await WorkerProcess.agent(id: "first-\(workQueue.suffix(6))", workQueue: workQueue)
        var second: WorkerProcess?
        let client = Tributary(broker: TestBroker.url)
        do {
            // 30 tasks of 1 s one after another, under a flow timeout of 10 s.
            let handle = try await client.submit(TimedRecordedFanout.self, RecordedFanout.Input(
                count: 30, chunk: 1, milliseconds: 1_000, queue: queue, path: path), workQueue: workQueue)
            // Killed early in its 10 s, even on a loaded machine: the first agent must not reach the timeout itself.
            try await waitUntil("two tasks finished", within: .seconds(30)) { Self.executions(in: path).count >= 2 }
            let firstStarted = try #require(try await handle.status().firstStartedAt)
            #expect(await first.killHard())
            let beforeResume = Self.executions(in: path).count
            // The second agent comes only once 10 s have passed since the run's first start.
            try await waitUntil("the run's timeout passed", within: .seconds(30)) {
                Date().timeIntervalSince(firstStarted) > 11
            }
            second = try await WorkerProcess.agent(id: "second-\(workQueue.suffix(6))", workQueue: workQueue)
            let error = await #expect(throws: FlowRunFailed.self) { _ = try await handle.result() }
            #expect(error?.status.state == .failed)
            #expect(error?.status.error?.message.contains("did not finish within its timeout of 10") == true,
                    "\(String(describing: error))")
            #expect(error?.status.agentID == second?.id, "the second agent ended it")
            // At most the task that was running at the kill finished after it; the resumed take sent none.
            #expect(Self.executions(in: path).count <= beforeResume + 1,
                    "\(Self.executions(in: path).count) executions against \(beforeResume) at the kill")
        } catch {
            await client.close()
            for process in [worker, first] + (second.map { [$0] } ?? []) { await process.dispose() }
            throw error
        }
        await client.close()
        for process in [worker, first] + (second.map { [$0] } ?? []) { await process.dispose() }
    }
}
