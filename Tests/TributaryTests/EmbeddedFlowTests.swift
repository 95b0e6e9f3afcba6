import Foundation
import Testing
import Tributary
import TributaryExamples

/// A task no worker in these tests registers.
struct NotRegistered: TaskDefinition {
    static let name = "not-registered"
    func run(_ x: Int, context: TaskContext) async throws -> Int { x }
}

@Suite("Flows on the embedded default (in-process transport)")
struct EmbeddedFlowTests {
    let client = Tributary.local(Examples.registry, concurrency: 4)

    @Test("a flow branches on a task's result at run time")
    func branches() async throws {
        for (x, expected) in [(3, 18), (9, 82)] {
            let result = try await client.run(flowNamed: "branch") { flow in
                let square = try await flow.call(Square.self, x)
                return square > 50 ? try await flow.call(Increment.self, square) : try await flow.call(Sum.self, [square, square])
            }
            #expect(result == expected)
        }
    }

    @Test("map fans out and values() gathers in order")
    func fanOut() async throws {
        let total = try await client.run(flowNamed: "fanout") { flow in
            try await flow.map(Increment.self, over: 0..<1_000).values().reduce(0, +)
        }
        #expect(total == (1...1_000).reduce(0, +))
    }

    @Test("a failing task is retried until it succeeds")
    func retriesUntilSuccess() async throws {
        let options = TaskOptions(retries: 3, retryDelay: .list([.milliseconds(10), .milliseconds(20)]))
        let value = try await client.run(flowNamed: "retry") { flow in
            try await flow.call(Flaky.self, .init(succeedOnAttempt: 3, value: 42), options: options)
        }
        #expect(value == 42)
    }

    @Test("a task that exhausts its retries fails the flow with the task's own error")
    func retriesExhausted() async throws {
        let failure = await #expect(throws: TaskFailure.self) {
            try await client.run(flowNamed: "exhaust") { flow in
                try await flow.call(AlwaysFails.self, "disk full", options: TaskOptions(retries: 2))
            }
        }
        #expect(failure?.stateName == "Failed")
        #expect(failure?.attempts == 3)
        #expect(failure?.remoteType == "Failure")
        #expect(failure?.message == "disk full")
    }

    @Test("state of a failed future is returned, not thrown, so a flow can branch on it")
    func stateWithoutThrowing() async throws {
        let outcome = try await client.run(flowNamed: "state") { flow in
            let risky = await flow.submit(AlwaysFails.self, "bad batch")
            let state = await risky.state
            return state.isCompleted ? "ok" : "cleanup after \(state.name): \(state.failure?.message ?? "")"
        }
        #expect(outcome == "cleanup after Failed: bad batch")
    }

    @Test("an attempt past its timeout ends TimedOut, and is retried when retries allow")
    func timeouts() async throws {
        let states = try await client.run(flowNamed: "timeouts") { flow in
            let once = await flow.submit(Nap.self, .init(milliseconds: 5_000),
                                         options: TaskOptions(timeout: .milliseconds(200)))
            let retried = await flow.submit(Nap.self, .init(milliseconds: 5_000, onlyUpToAttempt: 1),
                                            options: TaskOptions(retries: 1, timeout: .milliseconds(200)))
            return (await once.state, try await retried.value.attempt)
        }
        #expect(states.0.name == "TimedOut")
        #expect(states.0.failure?.remoteType == "TaskTimeout")
        #expect(states.1 == 2)
    }

    @Test("a task waiting for a failed upstream never runs and ends Cancelled")
    func waitFor() async throws {
        let (downstream, upstreamOK) = try await client.run(flowNamed: "wait-for") { flow in
            let first = await flow.submit(Increment.self, 1)
            let second = await flow.submit(Increment.self, 10, waitFor: [first])
            let broken = await flow.submit(AlwaysFails.self, "upstream broke")
            let never = await flow.submit(Increment.self, 100, waitFor: [broken])
            #expect(await broken.state.name == "Failed")
            return (await never.state, try await second.value)
        }
        #expect(upstreamOK == 11)
        #expect(downstream.name == "Cancelled")
        #expect(downstream.failure?.message.contains("always-fails") == true)
    }

    @Test("asCompleted yields every future, fastest first")
    func asCompleted() async throws {
        let order = try await client.run(flowNamed: "as-completed") { flow in
            let slow = await flow.submit(Nap.self, .init(milliseconds: 300))
            let fast = await flow.submit(Nap.self, .init(milliseconds: 10))
            var ids: [String] = []
            for await future in flow.asCompleted([slow, fast]) { ids.append(future.taskRunID) }
            return (ids, fast.taskRunID, slow.taskRunID)
        }
        #expect(order.0 == [order.1, order.2])
    }

    @Test("the sequential task runner runs one task at a time, in order")
    func sequentialRunner() async throws {
        let started = ContinuousClock.now
        let reports = try await client.run(flowNamed: "sequential", taskRunner: .sequential) { flow in
            try await flow.map(Nap.self, over: Array(repeating: Nap.Input(milliseconds: 100), count: 3)).values()
        }
        #expect(reports.count == 3)
        #expect(started.duration(to: .now) >= .milliseconds(300))
    }

    @Test("a task the workers do not have fails with a message that names it")
    func unknownTask() async throws {
        let state = try await client.run(flowNamed: "unknown") { flow in
            await flow.submit(NotRegistered.self, 1).state
        }
        #expect(state.name == "Failed")
        #expect(state.failure?.message.contains("no task named 'not-registered'") == true)
    }

    @Test("invalid options fail the call with the reason instead of sending it")
    func invalidOptions() async throws {
        let state = try await client.run(flowNamed: "bad-options") { flow in
            await flow.submit(Increment.self, 1, options: TaskOptions(retries: -1)).state
        }
        #expect(state.failure?.message.contains("retries must be 0 or more") == true)
    }

    @Test("running a flow name that is not registered says which flows are")
    func unknownFlow() async throws {
        let error = await #expect(throws: TributaryError.self) {
            _ = try await client.run(flowNamed: "nope", input: Array("1".utf8))
        }
        #expect(error?.description.contains("training-pipeline") == true)
    }

    @Test("the demo pipeline retries extraction, rejects malformed rows, and promotes the best model")
    func demoPipeline() async throws {
        let summary = try await client.run(TrainingPipeline.self, .init())
        #expect(summary.rowsRejected > 0)
        #expect(summary.rowsAccepted + summary.rowsRejected == 6 * 40)
        #expect(summary.best.r2 > 0.95)
        #expect(summary.promoted != nil)
        let strict = try await client.run(TrainingPipeline.self, .init(threshold: 0.99999))
        #expect(strict.promoted == nil)
    }
}

@Suite("Retry delays")
struct RetryDelayTests {
    @Test("fixed, list and exponential delays")
    func delays() {
        #expect(RetryDelay.fixed(.seconds(1)).delay(beforeRetry: 3) == .seconds(1))
        let list = RetryDelay.list([.milliseconds(10), .milliseconds(50)])
        #expect(list.delay(beforeRetry: 1) == .milliseconds(10))
        #expect(list.delay(beforeRetry: 5) == .milliseconds(50))
        let exponential = RetryDelay.exponential(base: .milliseconds(100), max: .seconds(1), jitter: 0)
        #expect(exponential.delay(beforeRetry: 1) == .milliseconds(100))
        #expect(exponential.delay(beforeRetry: 3) == .milliseconds(400))
        #expect(exponential.delay(beforeRetry: 10) == .seconds(1))
        let jittered = RetryDelay.exponential(base: .milliseconds(100), jitter: 0.5)
        #expect(jittered.delay(beforeRetry: 1, random: 1) == .milliseconds(150))
        #expect(jittered.delay(beforeRetry: 1, random: -1) == .milliseconds(50))
    }
}
