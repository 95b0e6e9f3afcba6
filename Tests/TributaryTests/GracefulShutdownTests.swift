import Foundation
import Testing
import Tributary
import TributaryExamples

@Suite("Worker shutdown on SIGTERM", .serialized)
struct GracefulShutdownTests {
    @Test("a worker sent SIGTERM mid-flow finishes what it runs, hands back the rest, exits 0; the flow completes")
    func drainOnSigterm() async throws {
        let queue = TestBroker.uniqueQueue("drain")
        let leaving = try await WorkerProcess(id: "leaving-\(queue.suffix(6))", queue: queue, concurrency: 2)
        let staying = try await WorkerProcess(id: "staying-\(queue.suffix(6))", queue: queue, concurrency: 2)
        try await withWorkers([leaving, staying]) {
            try await drainScenario(queue: queue, leaving: leaving)
        }
    }

    private func drainScenario(queue: String, leaving: WorkerProcess) async throws {
        let client = Tributary(broker: TestBroker.url)
        let reports = try await client.run(flowNamed: "drain") { flow in
            let naps = await flow.map(Nap.self, over: Array(repeating: Nap.Input(milliseconds: 1_500), count: 8),
                                      options: TaskOptions(queue: queue))
            try await Task.sleep(for: .milliseconds(600))
            leaving.terminate()
            return try await naps.values()
        }
        await client.close()
        #expect(reports.count == 8)
        let exit = await leaving.waitForExit(within: .seconds(20))
        #expect(exit == 0)
        let byLeaving = reports.filter { $0.workerID == leaving.id }.count
        #expect(byLeaving >= 1, "the tasks it was running when signalled finished and were reported")
        #expect(leaving.log.contains("draining"))
        #expect(reports.allSatisfy { $0.attempt == 1 }, "nothing had to be retried")
    }
}
