import Foundation
import Synchronization
import Testing
import Tributary
import TributaryExamples

/// Task bodies run on the worker's own threads, so `concurrency` N means N tasks at once even
/// when each blocks its thread in a C call; checked from the tasks' own start and finish times.
@Suite("Blocking tasks run `concurrency` at once")
struct BlockingTaskTests {
    static let block = Nap.Input(milliseconds: 400)

    @Test("16 blocking tasks on a worker process of concurrency 8: 8 run at once")
    func workerProcess() async throws {
        let queue = TestBroker.uniqueQueue("blocking")
        try await withWorkers(1, queue: queue, concurrency: 8) { _ in
            let client = Tributary(broker: TestBroker.url)
            let reports = try await client.run(flowNamed: "blocking") { flow in
                try await flow.map(BlockingNap.self, over: Array(repeating: Self.block, count: 16),
                                   options: TaskOptions(queue: queue)).values()
            }
            await client.close()
            #expect(reports.count == 16)
            #expect(ConcurrencyLimitTests.peakOverlap(reports) == 8,
                    "blocking tasks at once: \(ConcurrencyLimitTests.peakOverlap(reports))")
        }
    }

    @Test("8 blocking tasks on the embedded default of concurrency 8 all run at once")
    func embedded() async throws {
        let client = Tributary.local(Examples.registry, concurrency: 8)
        let reports = try await client.run(flowNamed: "blocking-embedded") { flow in
            try await flow.map(BlockingNap.self, over: Array(repeating: Self.block, count: 8)).values()
        }
        #expect(ConcurrencyLimitTests.peakOverlap(reports) == 8,
                "blocking tasks at once: \(ConcurrencyLimitTests.peakOverlap(reports))")
    }

    @Test("16 blocking tasks on the .concurrent(maxConcurrency: 8) task runner: 8 run at once")
    func concurrentTaskRunner() async throws {
        let client = Tributary(broker: TestBroker.url, registry: Examples.registry)
        let reports = try await client.run(flowNamed: "blocking-concurrent",
                                           taskRunner: .concurrent(maxConcurrency: 8)) { flow in
            try await flow.map(BlockingNap.self, over: Array(repeating: Self.block, count: 16)).values()
        }
        await client.close()
        #expect(reports.count == 16)
        #expect(ConcurrencyLimitTests.peakOverlap(reports) == 8,
                "blocking tasks at once: \(ConcurrencyLimitTests.peakOverlap(reports))")
    }

    @Test("a flow that fails while its task blocks the embedded worker's only thread returns without waiting for that task")
    func embeddedStopsPastBlockedThread() async throws {
        let client = Tributary.local(Examples.registry, concurrency: 1)
        let started = Date().timeIntervalSince1970
        await #expect(throws: FlowGaveUp.self) {
            try await client.run(flowNamed: "blocked-at-end") { flow in
                _ = await flow.submit(BlockingNap.self, Nap.Input(milliseconds: 20_000))
                try await Task.sleep(for: .milliseconds(300))
                throw FlowGaveUp()
            }
        }
        // The body blocks its thread for 20 s and ignores cancellation; the worker stops without it.
        #expect(Date().timeIntervalSince1970 - started < 19, "the run waited for the blocked task")
    }

    @Test("while blocking tasks hold every task thread, a result still arrives and a cancellation reaches the worker")
    func workerStaysResponsive() async throws {
        let queue = TestBroker.uniqueQueue("blockcancel")
        try await withWorkers(1, queue: queue, concurrency: 8) { workers in
            let client = Tributary(broker: TestBroker.url)
            let shortArrived = Mutex<Double?>(nil)
            let run = Task {
                try await client.run(flowNamed: "blocking-cancel") { flow in
                    let long = Nap.Input(milliseconds: 20_000)
                    _ = await flow.map(BlockingNap.self, over: Array(repeating: long, count: 7),
                                       options: TaskOptions(queue: queue))
                    _ = try await flow.call(BlockingNap.self, Nap.Input(milliseconds: 50),
                                            options: TaskOptions(queue: queue))
                    shortArrived.withLock { $0 = Date().timeIntervalSince1970 }
                    // The eighth thread blocks too: every task thread is now held.
                    _ = await flow.submit(BlockingNap.self, long, options: TaskOptions(queue: queue))
                    try await Task.sleep(for: .seconds(60))
                }
            }
            let started = Date().timeIntervalSince1970
            try await waitUntil("the short result", within: .seconds(30)) { shortArrived.withLock { $0 } != nil }
            try await Task.sleep(for: .milliseconds(500))
            run.cancel()
            try await workers[0].waitForLog(containing: "flow run cancelled", within: .seconds(20))
            let heard = Date().timeIntervalSince1970
            _ = try? await run.value
            await client.close()
            // The long tasks started after `started` and before the short one, and block for 20 s
            // (long enough for a loaded CI machine; the eighth starts after the short result).
            let short = shortArrived.withLock { $0 }!
            #expect(short - started < 20, "the short result came while 7 tasks blocked")
            #expect(heard < short + 19.5, "the worker heard the cancellation while 8 tasks blocked its threads")
        }
    }
}

/// A flow body's own failure.
private struct FlowGaveUp: Error {}
