import Foundation
import Testing
import Tributary
import TributaryExamples

/// Stops and starts the broker itself, so deploy/test.sh runs this suite on its own, after the rest.
@Suite("The broker restarting mid-flow", .serialized, .enabled(if: ProcessInfo.processInfo.environment["TRIB_SERIAL_TESTS"] == "1"))
struct BrokerRestartTests {
    @Test("workers and coordinator reconnect on their own and the flow completes with every result")
    func restartMidFlow() async throws {
        let queue = TestBroker.uniqueQueue("restart")
        let workers = [
            try await WorkerProcess(id: "r0-\(queue.suffix(6))", queue: queue, concurrency: 4),
            try await WorkerProcess(id: "r1-\(queue.suffix(6))", queue: queue, concurrency: 4),
        ]
        try await withWorkers(workers) {
            let client = Tributary(broker: TestBroker.url)
            let n = 300
            let run = Task { try await client.run(flowNamed: "restart") { flow in
                let futures = await flow.map(SlowIncrement.self,
                                             over: (0..<n).map { SlowIncrement.Input(value: $0, milliseconds: 40) },
                                             options: TaskOptions(queue: queue))
                try await Task.sleep(for: .milliseconds(500))
                let completed = futures.filter { $0.currentState.isCompleted }.count
                try await Command.rabbitmqctl(["stop_app"])
                try await Task.sleep(for: .seconds(2))
                try await Command.rabbitmqctl(["start_app"])
                return (try await futures.values().reduce(0, +), completed)
            } }
            // A result lost across the restart fails the test, with the workers' logs, rather than hanging it.
            let outcome: (total: Int, completedAtRestart: Int)
            do {
                outcome = try await value(of: run, "the flow's 300 results after the restart", within: .seconds(120))
            } catch {
                // The client is left as it is: closing it could wait on the same stuck connection.
                throw WorkerProcessError("\(error)\n" + workers.map { "--- \($0.id):\n\($0.log)" }.joined(separator: "\n"))
            }
            let (total, completedAtRestart) = outcome
            await client.close()
            #expect(total == (1...n).reduce(0, +))
            #expect(completedAtRestart < n, "the broker went down while the flow had work left")
            // A worker still in its reconnect backoff when the others finished the flow gets there too.
            for worker in workers {
                #expect(worker.process.isRunning)
                await #expect(throws: Never.self, "\(worker.id) reconnected on its own") {
                    try await worker.waitForLog(containing: "reconnected to the broker", within: .seconds(30))
                }
            }
        }
    }
}
