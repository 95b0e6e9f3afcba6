import Foundation
import Synchronization
import Testing
import Tributary
import TributaryExamples

/// What a worker does with deliveries it holds past the renewal delay (`TRIB_RENEW_HELD_AFTER`):
/// one in use is renewed, one still waiting in its prefetch goes back to its queue.
@Suite("Held deliveries past the renewal delay")
struct HeldDeliveryTests {
    static let renewing = ["TRIB_RENEW_HELD_AFTER": "1", "TRIB_LOG_LEVEL": "debug"]

    /// The worker processes a test has started so far.
    final class Workers: Sendable {
        private let all: Mutex<[WorkerProcess]>
        init(_ first: WorkerProcess) { all = Mutex([first]) }
        func add(_ worker: WorkerProcess) { all.withLock { $0.append(worker) } }
        var started: [WorkerProcess] { all.withLock { $0 } }
    }

    /// Runs `body` with a client on the test broker and `first`; closes the client and disposes of
    /// every worker the test started, whatever happens.
    static func withClient(and first: WorkerProcess,
                           _ body: (Tributary, Workers) async throws -> Void) async throws {
        let client = Tributary(broker: TestBroker.url), workers = Workers(first)
        do {
            try await body(client, workers)
        } catch {
            await client.close()
            for worker in workers.started { await worker.dispose() }
            throw error
        }
        await client.close()
        for worker in workers.started { await worker.dispose() }
    }

    @Test("tasks waiting behind a long one in a busy worker's prefetch go back to their queue, uncounted, and a worker started later runs them")
    func waitingTasksHandedBack() async throws {
        let queue = TestBroker.uniqueQueue("handback")
        // Handed back every 0.5–0.6 s while the long task runs: a waiting task that lands on the busy
        // worker again goes back again, until it lands on the free one.
        let quick = ["TRIB_RENEW_HELD_AFTER": "0.5", "TRIB_LOG_LEVEL": "debug"]
        let busy = try await WorkerProcess(id: "busy-\(queue.suffix(6))", queue: queue, concurrency: 1, prefetch: 4,
                                           environment: quick)
        try await Self.withClient(and: busy) { client, workers in
            let flow = Task {
                try await client.run(flowNamed: "hand-back") { (flow: FlowContext) async throws -> (Nap.Report, [Nap.Report]) in
                    let options = TaskOptions(queue: queue)
                    let long: TaskFuture<Nap.Report> = await flow.submit(Nap.self, Nap.Input(milliseconds: 30_000),
                                                                         options: options)
                    let short: [TaskFuture<Nap.Report>] = await flow.map(
                        Nap.self, over: [Nap.Input(milliseconds: 100), Nap.Input(milliseconds: 100)], options: options)
                    return (try await long.value, try await short.values())
                }
            }
            // The busy worker runs the long task and holds the short ones in its prefetch until they
            // have waited past the delay (within a second or so; the long task leaves time for a
            // loaded machine to get there).
            try await waitUntil("the busy worker handed back the waiting tasks", within: .seconds(20)) {
                busy.logLines(containing: "handing back deliveries that waited here") >= 1
            }
            let idle = try await WorkerProcess(id: "idle-\(queue.suffix(6))", queue: queue, concurrency: 1,
                                               environment: quick)
            workers.add(idle)
            let (long, short) = try await value(of: flow, "the flow", within: .seconds(60))
            #expect(long.workerID == busy.id)
            #expect(short.map(\.workerID) == [idle.id, idle.id], "the waiting tasks ran on the worker that was free")
            #expect(short.map(\.deliveries) == [1, 1], "a hand-back is not counted as a redelivery")
            #expect(busy.logLines(containing: "renewing held deliveries") >= 1, "the long task's delivery was renewed")
        }
    }

    @Test("a worker killed while it holds a renewed task: the copy goes back to the task queue, counted as a redelivery, and another worker runs it")
    func renewedTaskComesBack() async throws {
        let queue = TestBroker.uniqueQueue("renewkill")
        let first = try await WorkerProcess(id: "first-\(queue.suffix(6))", queue: queue, concurrency: 1,
                                            environment: Self.renewing)
        try await Self.withClient(and: first) { client, workers in
            let flow = Task {
                try await client.run(flowNamed: "renewed-kill") { (flow: FlowContext) async throws -> Nap.Report in
                    try await flow.submit(Nap.self, Nap.Input(milliseconds: 8_000), options: TaskOptions(queue: queue)).value
                }
            }
            try await waitUntil("the task's delivery was renewed", within: .seconds(30)) {
                first.logLines(containing: "renewing held deliveries") >= 1
            }
            #expect(await first.killHard())
            let second = try await WorkerProcess(id: "second-\(queue.suffix(6))", queue: queue, concurrency: 1,
                                                 environment: Self.renewing)
            workers.add(second)
            let report = try await value(of: flow, "the flow", within: .seconds(30))
            #expect(report.workerID == second.id)
            #expect(report.deliveries == 2, "the copy that came back counts as a redelivery")
        }
    }
}
