import Foundation
import Testing
import Tributary
import TributaryExamples

@Suite("Worker processes that die", .serialized)
struct WorkerFaultTests {
    @Test("workers killed with SIGKILL mid-fanout, several times: every result reaches the flow exactly once")
    func killedWorkers() async throws {
        let queue = TestBroker.uniqueQueue("kill9")
        var workers: [WorkerProcess] = []
        for index in 0..<3 {
            workers.append(try await WorkerProcess(id: "k\(index)-\(queue.suffix(6))", queue: queue, concurrency: 8))
        }
        let pool = WorkerPool(workers)
        let client = Tributary(broker: TestBroker.url)
        let n = 5_000
        let (total, completedWhenKilled) = try await client.run(flowNamed: "kill9") { flow in
            let futures = await flow.map(SlowIncrement.self, over: (0..<n).map { SlowIncrement.Input(value: $0, milliseconds: 40) },
                                         options: TaskOptions(queue: queue))
            var completedAtKill: [Int] = []
            // Replacements start in the background: on a loaded machine a start takes seconds, and
            // the next kill must still come while the flow has work.
            var restarts: [Task<Void, any Error>] = []
            // The last kill leaves well over half of the work, so that a loaded machine's stalls
            // (seconds, with the other suites running) never let the flow finish first.
            for (round, share) in [0.1, 0.25, 0.4].enumerated() {
                while futures.filter({ $0.currentState.isCompleted }).count < Int(Double(n) * share) {
                    try await Task.sleep(for: .milliseconds(20))
                }
                completedAtKill.append(futures.filter { $0.currentState.isCompleted }.count)
                await pool.kill(index: round % 3)
                restarts.append(Task { try await pool.restart(index: round % 3, queue: queue) })
            }
            let total = try await futures.values().reduce(0, +)
            for restart in restarts { try await restart.value }
            return (total, completedAtKill)
        }
        let duplicates = client.statistics.duplicateResultsIgnored
        await client.close()
        await pool.disposeAll()
        print("worker kills: 3 SIGKILLs, \(duplicates) duplicate results absorbed by the coordinator")
        #expect(total == (1...n).reduce(0, +), "every task's result, once")
        #expect(pool.kills == 3, "three workers were killed by SIGKILL")
        #expect(completedWhenKilled.allSatisfy { $0 < n }, "each kill came while the flow still had work: \(completedWhenKilled)")
    }

    /// With prefetch 1 a worker holds only the task it runs, so a crash hands back no bystanders.
    @Test("a poison task that crashes every worker running it ends Crashed and is dead-lettered; the rest complete")
    func poisonTask() async throws {
        let queue = TestBroker.uniqueQueue("poison")
        let isolated = ["--max-deliveries", "2", "--prefetch", "1", "--concurrency", "1"]
        let pool = WorkerPool([
            try await WorkerProcess(id: "p0-\(queue.suffix(6))", queue: queue, extraArguments: isolated),
            try await WorkerProcess(id: "p1-\(queue.suffix(6))", queue: queue, extraArguments: isolated),
        ])
        let deadLetters = try await DeadLetterWatch.start()
        let supervising = Task { await pool.restartCrashed(queue: queue, extraArguments: isolated) }
        let client = Tributary(broker: TestBroker.url)
        let (poison, others, poisonID) = try await client.run(flowNamed: "poison") { flow in
            let poison = await flow.submit(CrashWorker.self, "bad record", options: TaskOptions(queue: queue))
            let others = await flow.map(Increment.self, over: 0..<20, options: TaskOptions(queue: queue))
            return (await poison.state, try await others.values(), poison.taskRunID)
        }
        supervising.cancel()
        // A replacement it was starting when cancelled joins the pool before the pool is disposed.
        await supervising.value
        await client.close()
        await pool.disposeAll()
        #expect(poison.name == "Crashed")
        #expect(poison.failure?.message.contains("without an outcome") == true)
        #expect(others == Array(1...20))
        let crashed = pool.crashedProcesses
        #expect(crashed >= 2, "the poison task really crashed worker processes (\(crashed))")
        let dead = try await deadLetters.find(id: poisonID)
        await deadLetters.stop()
        #expect(dead?.properties.headers["x-trib-dead-reason"]?.stringValue?.contains("crash the worker") == true)
    }
}

/// Worker processes a test kills and restarts, like a supervisor (systemd, Kubernetes) would.
final class WorkerPool: @unchecked Sendable {
    private let lock = NSLock()
    private var workers: [WorkerProcess]
    private var retired: [WorkerProcess] = []
    private(set) var kills = 0

    init(_ workers: [WorkerProcess]) {
        self.workers = workers
    }

    /// Kills worker `index` with SIGKILL.
    func kill(index: Int) async {
        let victim = lock.withLock { workers[index] }
        if await victim.killHard() { lock.withLock { kills += 1 } }
    }

    /// Starts a replacement for worker `index`.
    func restart(index: Int, queue: String) async throws {
        let victim = lock.withLock { workers[index] }
        let replacement = try await WorkerProcess(id: victim.id + "r", queue: queue, concurrency: 8)
        lock.withLock { retired.append(victim); workers[index] = replacement }
    }

    /// Restarts any worker that exits by itself, until cancelled.
    func restartCrashed(queue: String, extraArguments: [String]) async {
        while !Task.isCancelled {
            for index in lock.withLock({ workers.indices }) {
                let worker = lock.withLock { workers[index] }
                guard !worker.process.isRunning else { continue }
                guard let replacement = try? await WorkerProcess(id: worker.id + "r", queue: queue,
                                                                 extraArguments: extraArguments) else { continue }
                lock.withLock { retired.append(worker); workers[index] = replacement }
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Worker processes, current and replaced, that ended by a signal they did not handle (a crash).
    var crashedProcesses: Int {
        lock.withLock { workers + retired }.filter {
            !$0.process.isRunning && $0.process.terminationReason == .uncaughtSignal
        }.count
    }

    func disposeAll() async {
        for worker in lock.withLock({ workers + retired }) { await worker.dispose() }
    }
}
