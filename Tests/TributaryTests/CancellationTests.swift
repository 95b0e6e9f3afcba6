import Foundation
import Synchronization
import Testing
import Tributary
import TributaryExamples

@Suite("Cancelling a flow run: from its client, from another client, and with `trib cancel`")
struct CancellationTests {
    /// Ten two-minute naps: two run on the worker (concurrency 2), the rest wait.
    static let naps = Array(repeating: Nap.Input(milliseconds: 120_000), count: 10)

    /// A worker that logs each task it starts (debug level), so a test can tell which ever ran.
    static func worker(_ queue: String) async throws -> WorkerProcess {
        try await WorkerProcess(id: "cancel-\(queue.suffix(6))", queue: queue, concurrency: 2,
                                environment: ["TRIB_LOG_LEVEL": "debug"])
    }

    /// Stops the worker and returns its closing line, with what it did with every task.
    static func closingLine(of worker: WorkerProcess) async -> String {
        await worker.stop()
        return worker.log.split(separator: "\n").last { $0.contains("worker stopped") }.map(String.init) ?? ""
    }

    /// Waits until the worker has started `count` tasks, has cancelled them, and the queue is empty.
    static func waitForCancellation(on worker: WorkerProcess, queue: String, running count: Int) async throws {
        try await waitUntil("the worker to cancel its running tasks", within: .seconds(30)) {
            worker.logLines(containing: "task attempt cancelled") == count
        }
        try await waitUntil("the worker to discard the queued tasks", within: .seconds(30)) {
            try await BrokerAdmin.queues()["trib.q.\(queue)"]?.messages == 0
        }
    }

    /// `trib run slow-fanout` of 8 two-minute tasks in a process of its own, once the worker runs 2 of them.
    static func slowFanoutProcess(queue: String, runningOn worker: WorkerProcess) async throws -> FlowProcess {
        let flow = try FlowProcess(flow: "slow-fanout",
                                   input: #"{"count": 8, "milliseconds": 120000, "queue": "\#(queue)"}"#)
        do {
            try await waitUntil("two tasks running on the worker", within: .seconds(30)) {
                worker.logLines(containing: "task attempt started") == 2
            }
        } catch {
            await flow.dispose()
            throw error
        }
        return flow
    }

    @Test("cancelling the Swift task that runs a flow: the worker cancels its 2 running tasks and discards the 8 queued, which never start")
    func cancelledByItsCaller() async throws {
        let queue = TestBroker.uniqueQueue("cancel")
        let worker = try await Self.worker(queue)
        try await withWorkers([worker]) {
            let finals = Mutex<[TaskState]>([])
            let client = Tributary(broker: TestBroker.url, onEvent: { event in
                if event.state.isFinal { finals.withLock { $0.append(event.state) } }
            })
            let run = Task {
                try await client.run(flowNamed: "cancelled-by-caller") { flow in
                    try await flow.map(Nap.self, over: Self.naps, options: TaskOptions(queue: queue)).values()
                }
            }
            try await waitUntil("two tasks running on the worker", within: .seconds(30)) {
                worker.logLines(containing: "task attempt started") == 2
            }
            run.cancel()
            await #expect(throws: CancellationError.self) { try await run.value }
            try await Self.waitForCancellation(on: worker, queue: queue, running: 2)
            await client.close()

            let closing = await Self.closingLine(of: worker)
            #expect(closing.contains("cancelled=2"), "\(closing)")
            #expect(closing.contains("discarded=8"), "\(closing)")
            #expect(closing.contains("completed=0"), "\(closing)")
            #expect(worker.logLines(containing: "task attempt started") == 2, "no discarded task ever started")
            #expect(finals.withLock { $0.count } == 10)
            #expect(finals.withLock { $0.allSatisfy { $0.name == "Cancelled" } }, "every run ended Cancelled")
        }
    }

    @Test("`trib cancel <flow-run-id>` stops a flow that another process runs: it answers, and that run fails with FlowCancelled")
    func cancelledFromTheCommandLine() async throws {
        let queue = TestBroker.uniqueQueue("clicancel")
        let worker = try await Self.worker(queue)
        try await withWorkers([worker]) {
            let flow = try await Self.slowFanoutProcess(queue: queue, runningOn: worker)
            defer { Task { await flow.dispose() } }
            let flowRunID = try await flow.flowRunID()

            let cancel = try await Command.trib(["cancel", flowRunID, "--broker", TestBroker.url,
                                                 "--reason", "the test says stop"])
            #expect(cancel.status == 0, "\(cancel.output)")
            #expect(cancel.output.contains("flow run \(flowRunID) of 'slow-fanout' cancelled"), "\(cancel.output)")

            let status = await flow.waitForExit(within: .seconds(30))
            #expect(status != nil && status != 0, "the flow's process ended with an error")
            #expect(flow.log.contains("flow run \(flowRunID) of 'slow-fanout' was cancelled: the test says stop"),
                    "\(flow.log.suffix(1_500))")
            #expect(flow.output.isEmpty, "the cancelled flow printed no result")
            try await Self.waitForCancellation(on: worker, queue: queue, running: 2)

            let closing = await Self.closingLine(of: worker)
            #expect(closing.contains("cancelled=2"), "\(closing)")
            #expect(closing.contains("discarded=6"), "\(closing)")
            #expect(worker.logLines(containing: "task attempt started") == 2, "no discarded task ever started")
        }
    }

    @Test("Ctrl-C (SIGINT) on `trib run` cancels its flow run: it exits saying so, and the worker cancels and discards its tasks")
    func interruptedRun() async throws {
        let queue = TestBroker.uniqueQueue("sigint")
        let worker = try await Self.worker(queue)
        try await withWorkers([worker]) {
            let flow = try await Self.slowFanoutProcess(queue: queue, runningOn: worker)
            defer { Task { await flow.dispose() } }
            flow.interrupt()
            let status = await flow.waitForExit(within: .seconds(30))
            #expect(status != nil && status != 0, "the flow's process ended with an error")
            #expect(flow.log.contains("flow 'slow-fanout' cancelled by a signal"), "\(flow.log.suffix(1_500))")
            try await Self.waitForCancellation(on: worker, queue: queue, running: 2)

            let closing = await Self.closingLine(of: worker)
            #expect(closing.contains("cancelled=2"), "\(closing)")
            #expect(closing.contains("discarded=6"), "\(closing)")
        }
    }

    @Test("another client cancels a subflow by its run id: the parent sees a Cancelled SubflowFailure and carries on")
    func subflowCancelledByAnotherClient() async throws {
        let queue = TestBroker.uniqueQueue("subcancel")
        let worker = try await Self.worker(queue)
        try await withWorkers([worker]) {
            let childRunID = Mutex<String?>(nil)
            let client = Tributary(broker: TestBroker.url, onEvent: { event in
                if event.parentFlowRunID != nil { childRunID.withLock { $0 = $0 ?? event.flowRunID } }
            })
            let run = Task {
                try await client.run(flowNamed: "parent") { flow -> String in
                    do {
                        _ = try await flow.subflow(named: "child") { child in
                            try await child.map(Nap.self, over: Self.naps, options: TaskOptions(queue: queue)).values()
                        }
                        return "child completed"
                    } catch let failure as SubflowFailure {
                        return "child \(failure.state.rawValue): \(failure.error)"
                    }
                }
            }
            try await waitUntil("two tasks of the subflow running on the worker", within: .seconds(30)) {
                worker.logLines(containing: "task attempt started") == 2
            }
            let child = try #require(childRunID.withLock { $0 })

            let other = Tributary(broker: TestBroker.url)
            let outcome = try await other.cancel(flowRunID: child, reason: "not needed any more")
            await other.close()
            #expect(outcome == .cancelled(flowName: "child"))
            let parentSaw = try await run.value
            #expect(parentSaw == "child Cancelled: flow run \(child) of 'child' was cancelled: not needed any more")
            try await Self.waitForCancellation(on: worker, queue: queue, running: 2)
            await client.close()
        }
    }

    @Test("`trib cancel` names what is wrong: an id that is not a flow-run id, and one no client runs")
    func cancelWithBadInput() async throws {
        let notAnID = try await Command.trib(["cancel", "last-night's-run", "--broker", TestBroker.url])
        #expect(notAnID.status != 0)
        #expect(notAnID.output.contains("'last-night's-run' is not a flow-run id"), "\(notAnID.output)")

        let nobody = UUID().uuidString.lowercased()
        let unanswered = try await Command.trib(["cancel", nobody, "--broker", TestBroker.url, "--wait", "1"])
        #expect(unanswered.status != 0)
        #expect(unanswered.output.contains("no client running flow run \(nobody) answered"), "\(unanswered.output)")
    }

    @Test("a flow attempt that times out: the worker cancels and discards that attempt's tasks, and the retry's tasks run")
    func timedOutAttempt() async throws {
        let queue = TestBroker.uniqueQueue("flowtimeout")
        let worker = try await Self.worker(queue)
        try await withWorkers([worker]) {
            let attempts = Mutex(0)
            let client = Tributary(broker: TestBroker.url)
            let total = try await client.run(flowNamed: "times-out-once",
                                             options: FlowOptions(retries: 1, timeout: .seconds(3))) { flow in
                if attempts.withLock({ $0 += 1; return $0 }) == 1 {
                    return try await flow.map(Nap.self, over: Self.naps, options: TaskOptions(queue: queue)).values().count
                }
                return try await flow.map(Increment.self, over: 0..<4, options: TaskOptions(queue: queue)).values()
                    .reduce(0, +)
            }
            #expect(total == 1 + 2 + 3 + 4, "the second attempt's tasks ran")
            try await Self.waitForCancellation(on: worker, queue: queue, running: 2)
            await client.close()

            let closing = await Self.closingLine(of: worker)
            #expect(closing.contains("cancelled=2"), "\(closing)")
            #expect(closing.contains("discarded=8"), "\(closing)")
            #expect(closing.contains("completed=4"), "\(closing)")
        }
    }

    @Test("a flow cancelled while it waits to retry ends Cancelled, and its onCancellation hooks run")
    func cancelledWhileWaitingToRetry() async throws {
        let seen = Mutex<[String]>([])
        let record = FlowHook { info in seen.withLock { $0.append(info.state.rawValue) } }
        let client = Tributary.local(Examples.registry)
        let run = Task {
            try await client.run(flowNamed: "retry-later", options: FlowOptions(retries: 1, retryDelay: .fixed(.seconds(60))),
                                 hooks: FlowHooks(onCancellation: [record], onRetry: [record])) { flow in
                try await flow.call(AlwaysFails.self, "not yet")
            }
        }
        try await waitUntil("the first attempt to fail", within: .seconds(30)) { seen.withLock { $0 } == ["Retrying"] }
        run.cancel()
        await #expect(throws: CancellationError.self) { try await run.value }
        #expect(seen.withLock { $0 } == ["Retrying", "Cancelled"])
    }

    @Test("on the embedded default, cancel(flowRunID:) stops a flow run of the same client")
    func embeddedCancelByID() async throws {
        let started = Mutex<String?>(nil)
        let client = Tributary.local(Examples.registry, concurrency: 2, onEvent: { event in
            if event.state == .running { started.withLock { $0 = $0 ?? event.flowRunID } }
        })
        let run = Task {
            try await client.run(flowNamed: "embedded-cancel") { flow in
                try await flow.map(Nap.self, over: Self.naps).values()
            }
        }
        try await waitUntil("a task running", within: .seconds(30)) { started.withLock { $0 } != nil }
        let id = try #require(started.withLock { $0 })
        #expect(try await client.cancel(flowRunID: id, reason: "enough") == .cancelled(flowName: "embedded-cancel"))
        await #expect(throws: FlowCancelled.self) { try await run.value }
        #expect(try await client.cancel(flowRunID: id) == .unanswered, "an ended run is not found again")
    }
}
