import AMQPClient
import Foundation
import Glibc
import Testing
import Tributary
import TributaryExamples

/// Submitted flow runs on real `trib agent` and `trib worker` processes over RabbitMQ.
@Suite("Submitted flow runs and agents, with real agent and worker processes")
struct AgentTests {
    /// `slow-fanout` of `count` increments on `queue`: its output is 1 + 2 + ... + count.
    static func fanout(_ count: Int, milliseconds: Int, queue: String) -> String {
        #"{"count": \#(count), "milliseconds": \#(milliseconds), "queue": "\#(queue)"}"#
    }

    /// The largest number of flow runs an agent's log shows running at once: its "flow run started"
    /// and "flow run Completed" lines, in the order the agent wrote them.
    static func peakRunning(in log: String) -> Int {
        var running = 0, peak = 0
        for line in log.split(separator: "\n") {
            if line.contains("flow run started") { running += 1 }
            if line.contains("flow run Completed") { running -= 1 }
            peak = max(peak, running)
        }
        return peak
    }

    @Test("a run submitted by a process that then exits completes on an agent; another process reads it by id, also after it ended")
    func submitAndReadBack() async throws {
        let queue = TestBroker.uniqueQueue("submit"), workQueue = TestBroker.uniqueQueue("wq")
        let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue)
        let agent = try await WorkerProcess.agent(id: "agent-\(workQueue.suffix(6))", workQueue: workQueue)
        try await withWorkers([worker, agent]) { () async throws in
            let submitted = try await Command.trib(["run", "slow-fanout", Self.fanout(10, milliseconds: 50, queue: queue),
                                                    "--submit", "--work-queue", workQueue, "--broker", TestBroker.url])
            try Command.require(submitted)
            let id = try #require(submitted.output.split(separator: "\n").first.map(String.init))
            #expect(UUID(uuidString: id) != nil, "run --submit prints the flow-run id: \(submitted.output)")

            let waited = try await Command.trib(["wait", id, "--broker", TestBroker.url])
            #expect(waited.status == 0)
            #expect(waited.output.trimmingCharacters(in: .whitespacesAndNewlines) == "55", "wait prints the output")

            // This test process is the "other process": a handle from nothing but the id.
            let client = Tributary(broker: TestBroker.url)
            let handle = client.flowRun(id: id, of: SlowFanout.self)
            #expect(try await handle.result() == 55)
            let status = try await handle.status()
            #expect(status.state == .completed)
            #expect(status.agentID == agent.id)
            #expect(status.flowName == "slow-fanout")
            await #expect(throws: TributaryError.unknownFlowRun(id: "00000000-0000-0000-0000-000000000000")) {
                _ = try await client.flowRun(id: "00000000-0000-0000-0000-000000000000").result()
            }
            await client.close()
        }
    }

    @Test("a paused work queue: its agent starts none of the runs submitted meanwhile; resumed, it runs them under the limit it had")
    func pausedWorkQueue() async throws {
        let queue = TestBroker.uniqueQueue("pause"), workQueue = TestBroker.uniqueQueue("pausewq")
        let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue)
        let agent = try await WorkerProcess.agent(id: "agent-\(workQueue.suffix(6))", workQueue: workQueue)
        try await withWorkers([worker, agent]) { () async throws in
            let client = Tributary(broker: TestBroker.url)
            try await client.setLimit(3, ofWorkQueue: workQueue)
            let paused = try await Command.trib(["work-queue", "pause", workQueue, "--broker", TestBroker.url])
            #expect(paused.status == 0 && paused.output.contains("paused"), "\(paused.output)")
            // An agent reads a work queue's limit at most every 5 s.
            try await Task.sleep(for: .seconds(6))
            let handles = [
                try await client.submit(Checkpoint.self, Checkpoint.Input(label: "one"), workQueue: workQueue),
                try await client.submit(Checkpoint.self, Checkpoint.Input(label: "two"), workQueue: workQueue),
            ]
            try await Task.sleep(for: .seconds(3))
            for handle in handles { #expect(try await handle.status().state == .pending, "not started while paused") }
            let inspected = try await Command.trib(["work-queue", "inspect", workQueue, "--broker", TestBroker.url])
            #expect(inspected.output.contains("paused"), "\(inspected.output)")
            #expect(try await client.isPaused(workQueue: workQueue))

            let resumed = try await Command.trib(["work-queue", "resume", workQueue, "--broker", TestBroker.url])
            #expect(resumed.output.contains("resumed, at most 3 flow runs at once"), "\(resumed.output)")
            for (handle, label) in zip(handles, ["one", "two"]) {
                let output = try await value(of: Task { try await handle.result() }, "the run after resuming", within: .seconds(30))
                #expect(output == Checkpoint.Output(label: label, ok: true))
            }
            #expect(try await client.limit(ofWorkQueue: workQueue) == 3)
            try await client.setLimit(nil, ofWorkQueue: workQueue)
            await client.close()
        }
    }

    @Test("100 runs submitted at once to 2 agents of concurrency 3: all complete, never more than 3 at once on one agent")
    func agentConcurrency() async throws {
        let queue = TestBroker.uniqueQueue("many"), workQueue = TestBroker.uniqueQueue("wq")
        let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue, concurrency: 16)
        let agents = [
            try await WorkerProcess.agent(id: "a0-\(workQueue.suffix(6))", workQueue: workQueue, concurrency: 3),
            try await WorkerProcess.agent(id: "a1-\(workQueue.suffix(6))", workQueue: workQueue, concurrency: 3),
        ]
        try await withWorkers([worker] + agents) {
            let client = Tributary(broker: TestBroker.url)
            var handles: [FlowRunHandle<Int>] = []
            for _ in 0..<100 {
                handles.append(try await client.submit(SlowFanout.self, SlowFanout.Input(count: 2, milliseconds: 100,
                                                                                          queue: queue),
                                                       workQueue: workQueue))
            }
            for handle in handles { #expect(try await handle.result() == 3) }
            await client.close()
            for agent in agents {
                #expect(Self.peakRunning(in: agent.log) <= 3, "agent \(agent.id) ran \(Self.peakRunning(in: agent.log)) at once")
            }
            let ran = agents.map { $0.logLines(containing: "flow run Completed") }
            #expect(ran.reduce(0, +) == 100, "runs per agent: \(ran)")
            #expect(ran.allSatisfy { $0 > 0 }, "both agents took runs: \(ran)")
        }
    }

    @Test("an agent killed with SIGKILL mid-run: another agent runs it under the same id, and it completes")
    func agentKilled() async throws {
        let queue = TestBroker.uniqueQueue("kill"), workQueue = TestBroker.uniqueQueue("wq")
        let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue, concurrency: 4)
        try await withWorkers([worker]) { () async throws in
            // Both agents are up before the run is submitted: whichever takes it is killed at once,
            // while its 9 s of tasks still run (on a loaded machine, seeing who took it can take
            // seconds), and the other must resume it.
            let agents = [
                try await WorkerProcess.agent(id: "a0-\(workQueue.suffix(6))", workQueue: workQueue),
                try await WorkerProcess.agent(id: "a1-\(workQueue.suffix(6))", workQueue: workQueue),
            ]
            try await withWorkers(agents) { () async throws in
                let client = Tributary(broker: TestBroker.url)
                let handle = try await client.submit(SlowFanout.self, SlowFanout.Input(count: 12, milliseconds: 3_000,
                                                                                       queue: queue),
                                                     workQueue: workQueue)
                var taker: WorkerProcess?
                try await waitUntil("an agent runs it", within: .seconds(60)) {
                    let runner = try await handle.status().agentID
                    taker = agents.first { $0.id == runner }
                    return taker != nil
                }
                let first = try #require(taker)
                let second = try #require(agents.first { $0.id != first.id })
                #expect(await first.killHard())
                #expect(try await handle.result() == 78)
                let status = try await handle.status()
                #expect(status.agentID == second.id, "the surviving agent finished it")
                #expect(status.epoch == 2, "a second take of the run")
                #expect(second.logLines(containing: "flow-run=\(handle.id)") > 0)
                await client.close()
            }
        }
    }

    @Test("an agent sent SIGTERM finishes the run it has within its grace and exits 0")
    func agentDrains() async throws {
        let queue = TestBroker.uniqueQueue("drain"), workQueue = TestBroker.uniqueQueue("wq")
        let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue, concurrency: 4)
        let agent = try await WorkerProcess.agent(id: "a-\(workQueue.suffix(6))", workQueue: workQueue)
        try await withWorkers([worker, agent]) { () async throws in
            let client = Tributary(broker: TestBroker.url)
            let handle = try await client.submit(SlowFanout.self, SlowFanout.Input(count: 4, milliseconds: 1_500, queue: queue),
                                                 workQueue: workQueue)
            try await waitUntil("the agent runs it", within: .seconds(60)) { try await handle.state == .running }
            agent.terminate()
            #expect(try await handle.result() == 10)
            #expect(await agent.waitForExit(within: .seconds(60)) == 0)
            #expect(try await handle.status().agentID == agent.id)
            await client.close()
        }
    }

    @Test("an agent whose shutdown grace runs out hands its run back; another agent completes it, never Crashed or Cancelled")
    func agentHandsBack() async throws {
        let queue = TestBroker.uniqueQueue("handback"), workQueue = TestBroker.uniqueQueue("wq")
        // 12 s of work: still running when the second agent is up and the first is told to stop.
        let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue, concurrency: 2)
        let first = try await WorkerProcess.agent(id: "first-\(workQueue.suffix(6))", workQueue: workQueue, shutdownGrace: 1)
        try await withWorkers([worker, first]) { () async throws in
            let client = Tributary(broker: TestBroker.url)
            let handle = try await client.submit(SlowFanout.self, SlowFanout.Input(count: 12, milliseconds: 2_000, queue: queue),
                                                 workQueue: workQueue)
            try await waitUntil("the first agent runs it", within: .seconds(60)) {
                try await handle.status().agentID == first.id
            }
            let second = try await WorkerProcess.agent(id: "second-\(workQueue.suffix(6))", workQueue: workQueue)
            try await withWorkers([second]) { () async throws in
                #expect(try await handle.state == .running, "the first agent still runs it")
                first.terminate()
                #expect(await first.waitForExit(within: .seconds(60)) == 0)
                #expect(first.logLines(containing: "handing back flow runs") == 1)
                #expect(try await handle.result() == 78)
                #expect(try await handle.status().agentID == second.id)
            }
            await client.close()
        }
    }

    @Test("a flow run that crashes every agent that runs it ends Crashed after --max-deliveries and is dead-lettered")
    func poisonFlowRun() async throws {
        let workQueue = TestBroker.uniqueQueue("poison")
        let limit = ["--max-deliveries", "2"]
        let deadLetters = try await DeadLetterWatch.start()
        let client = Tributary(broker: TestBroker.url)
        let handle = try await client.submit(CrashAgent.self, "bad input", workQueue: workQueue)
        // Each agent that takes it dies; the third sees it has been handed out twice already.
        for round in 0..<2 {
            let doomed = try await WorkerProcess.agent(id: "doomed\(round)-\(workQueue.suffix(6))", workQueue: workQueue,
                                                       extraArguments: limit)
            #expect(await doomed.waitForExit(within: .seconds(30)) != 0, "agent \(round) died running the poison run")
            await doomed.dispose()
        }
        let last = try await WorkerProcess.agent(id: "last-\(workQueue.suffix(6))", workQueue: workQueue,
                                                 extraArguments: limit)
        try await withWorkers([last]) { () async throws in
            await #expect(throws: FlowRunFailed.self) { _ = try await handle.result() }
            let status = try await handle.status()
            #expect(status.state == .crashed)
            #expect(status.error?.message.contains("handed to agents 2 times without an outcome") == true)
            let dead = try await waitForDeadLetter(of: handle.id, in: deadLetters)
            #expect(dead.properties.headers["x-trib-dead-reason"]?.stringValue?.contains("handed to agents") == true)
            // The agent carries on with other runs.
            let queue = TestBroker.uniqueQueue("after")
            let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue)
            try await withWorkers([worker]) { () async throws in
                let next = try await client.submit(SlowFanout.self, SlowFanout.Input(count: 3, milliseconds: 10, queue: queue),
                                                   workQueue: workQueue)
                #expect(try await next.result() == 6)
            }
        }
        await deadLetters.stop()
        await client.close()
    }

    func waitForDeadLetter(of flowRunID: String, in watch: DeadLetterWatch) async throws -> AMQPDelivery {
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            if let letter = try await watch.next() {
                if letter.properties.correlationID == flowRunID { return letter }
                continue
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw WorkerProcessError("no dead letter for flow run \(flowRunID)")
    }

    @Test("a queued run cancelled before any agent serves its work queue is discarded by the agent that comes later")
    func cancelQueued() async throws {
        let workQueue = TestBroker.uniqueQueue("cancelq")
        let client = Tributary(broker: TestBroker.url)
        let handle = try await client.submit(SlowFanout.self, SlowFanout.Input(count: 1, milliseconds: 10, queue: "unused"),
                                             workQueue: workQueue)
        #expect(try await handle.state == .pending)
        #expect(try await handle.cancel() == .cancelled(flowName: "slow-fanout"))
        #expect(try await handle.state == .cancelled)
        let agent = try await WorkerProcess.agent(id: "late-\(workQueue.suffix(6))", workQueue: workQueue)
        try await withWorkers([agent]) { () async throws in
            try await agent.waitForLog(containing: "discarded a flow run that has already ended", within: .seconds(30))
            #expect(agent.logLines(containing: "flow run started") == 0)
            do {
                _ = try await handle.result()
                Issue.record("a cancelled run has no output")
            } catch let failure as FlowRunFailed {
                #expect(failure.status.state == .cancelled)
            }
        }
        await client.close()
    }

    @Test("a running submitted run is cancelled where its agent runs it: it ends Cancelled")
    func cancelRunning() async throws {
        let queue = TestBroker.uniqueQueue("cancelr"), workQueue = TestBroker.uniqueQueue("wq")
        let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue, concurrency: 2)
        let agent = try await WorkerProcess.agent(id: "a-\(workQueue.suffix(6))", workQueue: workQueue)
        try await withWorkers([worker, agent]) { () async throws in
            let client = Tributary(broker: TestBroker.url)
            let handle = try await client.submit(SlowFanout.self, SlowFanout.Input(count: 20, milliseconds: 2_000, queue: queue),
                                                 workQueue: workQueue)
            try await waitUntil("the agent runs it", within: .seconds(60)) { try await handle.state == .running }
            let other = Tributary(broker: TestBroker.url)
            #expect(try await other.cancel(flowRunID: handle.id) == .cancelled(flowName: "slow-fanout"))
            await other.close()
            do {
                _ = try await handle.result()
                Issue.record("a cancelled run has no output")
            } catch let failure as FlowRunFailed {
                #expect(failure.status.state == .cancelled)
                #expect(failure.status.agentID == agent.id)
            }
            await client.close()
        }
    }

    @Test("the same idempotency key twice: one run, and the second submit returns the first run's handle")
    func idempotentSubmit() async throws {
        let queue = TestBroker.uniqueQueue("idem"), workQueue = TestBroker.uniqueQueue("wq")
        let key = "nightly-\(UUID().uuidString)"
        let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue)
        let agent = try await WorkerProcess.agent(id: "a-\(workQueue.suffix(6))", workQueue: workQueue)
        try await withWorkers([worker, agent]) { () async throws in
            let client = Tributary(broker: TestBroker.url)
            let input = SlowFanout.Input(count: 3, milliseconds: 10, queue: queue)
            let first = try await client.submit(SlowFanout.self, input, workQueue: workQueue, idempotencyKey: key)
            #expect(try await first.result() == 6)
            let again = try await client.submit(SlowFanout.self, input, workQueue: workQueue, idempotencyKey: key)
            #expect(again.id == first.id)
            #expect(try await again.result() == 6)
            try await Task.sleep(for: .milliseconds(500))
            #expect(agent.logLines(containing: "flow run started") == 1)
            await client.close()
        }
    }

    @Test("a work-queue limit of 2 (`trib work-queue set-limit`): never more than 2 of its runs at once across 2 agents with room for 6")
    func workQueueLimit() async throws {
        let queue = TestBroker.uniqueQueue("limit"), workQueue = TestBroker.uniqueQueue("wq")
        let set = try await Command.trib(["work-queue", "set-limit", workQueue, "2", "--broker", TestBroker.url])
        try Command.require(set)
        let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue, concurrency: 16)
        let agents = [
            try await WorkerProcess.agent(id: "a0-\(workQueue.suffix(6))", workQueue: workQueue, concurrency: 3),
            try await WorkerProcess.agent(id: "a1-\(workQueue.suffix(6))", workQueue: workQueue, concurrency: 3),
        ]
        try await withWorkers([worker] + agents) { () async throws in
            let client = Tributary(broker: TestBroker.url)
            #expect(try await client.limit(ofWorkQueue: workQueue) == 2)
            var handles: [FlowRunHandle<Int>] = []
            for _ in 0..<8 {
                handles.append(try await client.submit(SlowFanout.self, SlowFanout.Input(count: 2, milliseconds: 3_000,
                                                                                          queue: queue),
                                                       workQueue: workQueue))
            }
            var spans: [(start: Date, end: Date)] = []
            for handle in handles {
                #expect(try await handle.result() == 3)
                let status = try await handle.status()
                spans.append((try #require(status.startedAt), status.updatedAt))
            }
            var edges = spans.flatMap { [($0.start, 1), ($0.end, -1)] }
            edges.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            var running = 0, peak = 0
            for (_, change) in edges {
                running += change
                peak = max(peak, running)
            }
            #expect(peak == 2, "runs at once across both agents: \(peak)")
            let ran = agents.map { $0.logLines(containing: "flow run Completed") }
            #expect(ran.allSatisfy { $0 > 0 }, "both agents ran some: \(ran)")
            try await client.setLimit(nil, ofWorkQueue: workQueue)
            #expect(try await client.limit(ofWorkQueue: workQueue) == nil)
            await client.close()
        }
    }

    @Test("`run --submit` to a work queue no agent serves says so, naming the queue and the agent command")
    func unservedWorkQueue() async throws {
        let workQueue = TestBroker.uniqueQueue("nobody")
        let submitted = try await Command.trib(["run", "slow-fanout", Self.fanout(1, milliseconds: 1, queue: "unused"),
                                                "--submit", "--work-queue", workQueue, "--broker", TestBroker.url])
        #expect(submitted.status == 0)
        #expect(submitted.output.contains("no agent takes flow runs from work queue '\(workQueue)'"))
        #expect(submitted.output.contains("trib agent --work-queue \(workQueue)"))
        let id = try #require(submitted.output.split(separator: "\n").first.map(String.init))
        let client = Tributary(broker: TestBroker.url)
        _ = try await client.cancel(flowRunID: id)
        await client.close()
    }

    @Test("bad submissions are refused with what to fix")
    func badSubmissions() async throws {
        let client = Tributary(broker: TestBroker.url)
        await #expect(throws: TributaryError.self) {
            _ = try await client.submit(flowNamed: "slow-fanout", input: Array("{not json".utf8))
        }
        await #expect(throws: TributaryError.self) {
            _ = try await client.submit(flowNamed: "slow-fanout", input: Array("1".utf8), workQueue: "has space")
        }
        await client.close()
        let noBroker = try await Command.trib(["run", "slow-fanout", "1", "--submit", "--embedded"])
        #expect(noBroker.status != 0)
        #expect(noBroker.output.contains("--submit needs a broker"))
    }
}

@Suite("Submitted flow runs on the embedded default")
struct EmbeddedSubmitTests {
    @Test("Tributary.local accepts submit: an in-process agent runs it, and a handle by id reads it")
    func embeddedSubmit() async throws {
        let client = Tributary.local(Examples.registry)
        let handle = try await client.submit(SlowFanout.self, SlowFanout.Input(count: 10, milliseconds: 1, queue: "any"))
        #expect(try await handle.result() == 55)
        #expect(try await client.flowRun(id: handle.id, of: SlowFanout.self).result() == 55)
        #expect(try await handle.state == .completed)
        #expect(try await handle.status().agentID == "in-process")
        await client.close()
    }

    @Test("an embedded run of a flow the registry lacks ends Failed, naming the flows it has")
    func embeddedUnknownFlow() async throws {
        let client = Tributary.local(Examples.registry)
        let handle = try await client.submit(flowNamed: "no-such-flow", input: Array("1".utf8))
        do {
            _ = try await handle.result()
            Issue.record("an unknown flow has no output")
        } catch let failure as FlowRunFailed {
            #expect(failure.status.state == .failed)
            #expect(failure.status.error?.message.contains("has no flow named 'no-such-flow'") == true)
        }
        await client.close()
    }
}
