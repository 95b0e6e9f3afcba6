import Foundation
import Testing
import Tributary
import TributaryExamples

@Suite("Tasks that hang", .serialized)
struct HungTaskTests {
    @Test("a task that blocks its thread past its timeout is reported TimedOut on time; the worker serves others, then recycles")
    func hungTask() async throws {
        let queue = TestBroker.uniqueQueue("hung")
        let worker = try await WorkerProcess(id: "hung-\(queue.suffix(6))", queue: queue, concurrency: 4,
                                             extraArguments: ["--recycle-after-stuck", "1"])
        try await withWorkers([worker]) {
            let client = Tributary(broker: TestBroker.url)
            // The worker stops taking tasks once the blocked one times out (--recycle-after-stuck 1),
            // so the others must be done by then: 2 s leaves a loaded machine room for ten
            // increments (300 ms did not, once, and the flow waited for them forever). The flow's
            // own timeout makes any such wait a failure rather than a hang.
            let blockedFor = 8_000
            let (state, others, reportedAfter) = try await client.run(flowNamed: "hung",
                                                                      options: FlowOptions(timeout: .seconds(60))) { flow in
                let started = ContinuousClock.now
                let hung = await flow.submit(BlockThread.self, blockedFor,
                                             options: TaskOptions(timeout: .seconds(2), queue: queue))
                let others = try await flow.map(Increment.self, over: 0..<10, options: TaskOptions(queue: queue)).values()
                let state = await hung.state
                return (state, others, started.duration(to: .now))
            }
            await client.close()
            #expect(state.name == "TimedOut")
            #expect(others == Array(1...10), "the worker served other tasks while one thread was stuck")
            #expect(reportedAfter < .milliseconds(blockedFor - 1_000), "reported while the task still blocked its thread")
            let exit = await worker.waitForExit(within: .seconds(20))
            #expect(exit == 0, "the worker drained and exited so a supervisor can start a fresh one")
            #expect(worker.log.contains("recycling"))
        }
    }
}
