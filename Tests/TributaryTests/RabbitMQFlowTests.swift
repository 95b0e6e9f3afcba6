import Foundation
import Testing
import Tributary
import TributaryExamples

@Suite("Flows over RabbitMQ with real worker processes", .serialized)
struct RabbitMQFlowTests {
    @Test("a flow branches on task results computed by worker processes")
    func branches() async throws {
        let queue = TestBroker.uniqueQueue("branch")
        let on = TaskOptions(queue: queue)
        try await withWorkers(2, queue: queue) { _ in
            let client = Tributary(broker: TestBroker.url)
            for (x, expected) in [(3, 18), (9, 82)] {
                let result = try await client.run(flowNamed: "branch") { flow in
                    let square = try await flow.call(Square.self, x, options: on)
                    return square > 50 ? try await flow.call(Increment.self, square, options: on)
                                       : try await flow.call(Sum.self, [square, square], options: on)
                }
                #expect(result == expected)
            }
            await client.close()
        }
    }

    @Test("a fan-out of 10,000 tasks over two workers returns the right sum")
    func fanOut10k() async throws {
        let queue = TestBroker.uniqueQueue("fanout")
        try await withWorkers(2, queue: queue, concurrency: 16) { workers in
            let client = Tributary(broker: TestBroker.url)
            let total = try await client.run(flowNamed: "fanout-10k") { flow in
                try await flow.map(Increment.self, over: 0..<10_000, options: TaskOptions(queue: queue, persistent: false))
                    .values().reduce(0, +)
            }
            #expect(total == (1...10_000).reduce(0, +))
            await client.close()
            for worker in workers { await worker.stop() }
            let completed = workers.map { Self.completedCount(in: $0.log) }
            #expect(completed.reduce(0, +) == 10_000)
            #expect(completed.allSatisfy { $0 > 0 }, "both workers took part: \(completed)")
        }
    }

    @Test("a failing task is retried with its delays until it succeeds")
    func retriesWithDelays() async throws {
        let queue = TestBroker.uniqueQueue("retry")
        try await withWorkers(2, queue: queue) { _ in
            let client = Tributary(broker: TestBroker.url)
            let started = ContinuousClock.now
            let value = try await client.run(flowNamed: "retry") { flow in
                try await flow.call(Flaky.self, .init(succeedOnAttempt: 3, value: 7), options: TaskOptions(
                    retries: 3, retryDelay: .list([.milliseconds(200), .milliseconds(300)]), queue: queue))
            }
            #expect(value == 7)
            #expect(started.duration(to: .now) >= .milliseconds(500), "both retry delays were waited")
            await client.close()
        }
    }

    @Test("a task that exhausts its retries fails the flow with the task's error type and message")
    func retriesExhausted() async throws {
        let queue = TestBroker.uniqueQueue("exhaust")
        try await withWorkers(1, queue: queue) { _ in
            let client = Tributary(broker: TestBroker.url)
            let failure = await #expect(throws: TaskFailure.self) {
                try await client.run(flowNamed: "exhaust") { flow in
                    try await flow.call(AlwaysFails.self, "upstream API down",
                                        options: TaskOptions(retries: 2, retryDelay: .fixed(.milliseconds(50)), queue: queue))
                }
            }
            #expect(failure?.stateName == "Failed")
            #expect(failure?.attempts == 3)
            #expect(failure?.remoteType == "Failure")
            #expect(failure?.message == "upstream API down")
            await client.close()
        }
    }

    @Test("a task past its timeout is cancelled on the worker, ends TimedOut, and is retried when allowed")
    func timeouts() async throws {
        let queue = TestBroker.uniqueQueue("timeout")
        try await withWorkers(2, queue: queue) { _ in
            let client = Tributary(broker: TestBroker.url)
            let (once, retried) = try await client.run(flowNamed: "timeouts") { flow in
                let once = await flow.submit(Nap.self, .init(milliseconds: 10_000),
                                             options: TaskOptions(timeout: .milliseconds(300), queue: queue))
                let retried = await flow.submit(Nap.self, .init(milliseconds: 10_000, onlyUpToAttempt: 1),
                                                options: TaskOptions(retries: 1, timeout: .milliseconds(300), queue: queue))
                return (await once.state, try await retried.value)
            }
            #expect(once.name == "TimedOut")
            #expect(once.failure?.remoteType == "TaskTimeout")
            #expect(retried.attempt == 2)
            await client.close()
        }
    }

    @Test("the state of a failed future is read without throwing and drives a cleanup branch")
    func failedState() async throws {
        let queue = TestBroker.uniqueQueue("state")
        try await withWorkers(1, queue: queue) { _ in
            let client = Tributary(broker: TestBroker.url)
            let outcome = try await client.run(flowNamed: "state") { flow in
                let extract = await flow.submit(AlwaysFails.self, "export timed out", options: TaskOptions(queue: queue))
                let state = await extract.state
                guard case .failed(let failure) = state else { return "unexpected \(state)" }
                let cleaned = try await flow.call(Increment.self, 0, options: TaskOptions(queue: queue))
                return "\(state.name) (\(failure.message)); cleanup \(cleaned)"
            }
            #expect(outcome == "Failed (export timed out); cleanup 1")
            await client.close()
        }
    }

    @Test("a task name the workers do not know is rejected back to the flow and dead-lettered")
    func unknownTaskName() async throws {
        let queue = TestBroker.uniqueQueue("unknown")
        try await withWorkers(1, queue: queue) { _ in
            let deadLetters = try await DeadLetterWatch.start()
            let client = Tributary(broker: TestBroker.url)
            let (state, runID) = try await client.run(flowNamed: "unknown") { flow in
                let future = await flow.submit(NotRegistered.self, 1, options: TaskOptions(queue: queue))
                return (await future.state, future.taskRunID)
            }
            #expect(state.name == "Failed")
            #expect(state.failure?.remoteType == "Rejected")
            #expect(state.failure?.message.contains("no task named 'not-registered'") == true)
            let dead = try await deadLetters.find(id: runID)
            #expect(dead?.properties.headers["x-trib-dead-reason"]?.stringValue?.contains("not-registered") == true)
            await deadLetters.stop()
            await client.close()
        }
    }

    @Test("the demo pipeline gives the same result on two workers as on the embedded default")
    func demoSameAsEmbedded() async throws {
        try await withWorkers(2, queue: "default") { _ in
            let client = Tributary(broker: TestBroker.url)
            var remote = try await client.run(TrainingPipeline.self, .init())
            var local = try await Tributary.local(Examples.registry).run(TrainingPipeline.self, .init())
            // Both read the same result store (~/.tributary/results), so how many steps one took
            // from it depends on what ran before (the first run fills it): the rest must agree.
            (remote.reusedFromCache, local.reusedFromCache) = (0, 0)
            #expect(remote == local)
            #expect(remote.promoted != nil)
            await client.close()
        }
    }

    static func completedCount(in log: String) -> Int {
        guard let line = log.split(separator: "\n").last(where: { $0.contains("worker stopped") }),
              let range = line.range(of: "completed=") else { return 0 }
        return Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0
    }
}
