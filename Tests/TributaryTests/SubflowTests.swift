import Foundation
import Synchronization
import Testing
import Tributary
import TributaryExamples

@Suite("Subflows, flow retries and flow timeouts, with real workers over RabbitMQ")
struct SubflowTests {
    @Test("a subflow gets its own run id and state, nested under its parent in events and hooks")
    func nested() async throws {
        let queue = TestBroker.uniqueQueue("subflow")
        let events = Mutex<[TaskEvent]>([])
        let subflowRuns = Mutex<[FlowRunInfo]>([])
        try await withWorkers(1, queue: queue) { _ in
            let client = Tributary(broker: TestBroker.url, onEvent: { event in events.withLock { $0.append(event) } })
            let (parentID, total) = try await client.run(flowNamed: "parent") { flow in
                let hooks = FlowHooks(onCompletion: [FlowHook { info in subflowRuns.withLock { $0.append(info) } }])
                let total = try await flow.subflow(named: "load", hooks: hooks) { load in
                    try await load.map(Increment.self, over: 0..<5, options: TaskOptions(queue: queue)).values()
                        .reduce(0, +)
                }
                return (flow.flowRunID, total)
            }
            await client.close()
            #expect(total == 15)
            let child = try #require(subflowRuns.withLock { $0 }.first)
            #expect(child.flowName == "load")
            #expect(child.state == .completed)
            #expect(child.parentFlowRunID == parentID)
            #expect(child.flowRunID != parentID)
            let taskEvents = events.withLock { $0 }
            #expect(!taskEvents.isEmpty)
            #expect(taskEvents.allSatisfy { $0.flowRunID == child.flowRunID && $0.parentFlowRunID == parentID },
                    "the subflow's task runs belong to it, under the parent")
        }
    }

    @Test("a subflow's failure reaches the parent like a task's: caught, it can be handled; uncaught, it fails the parent")
    func failure() async throws {
        let queue = TestBroker.uniqueQueue("subfail")
        try await withWorkers(1, queue: queue) { _ in
            let client = Tributary(broker: TestBroker.url)
            @Sendable func failingSubflow(_ flow: FlowContext) async throws -> Int {
                try await flow.subflow(named: "extract") { extract in
                    try await extract.call(AlwaysFails.self, "source gone", options: TaskOptions(queue: queue))
                }
            }
            let handled = try await client.run(flowNamed: "handles") { flow in
                do {
                    return try await failingSubflow(flow)
                } catch let failure as SubflowFailure {
                    return failure.state == .failed && "\(failure)".contains("source gone") ? -1 : -2
                }
            }
            #expect(handled == -1)
            let error = await #expect(throws: SubflowFailure.self) {
                try await client.run(flowNamed: "does-not-handle") { flow in try await failingSubflow(flow) }
            }
            #expect(error?.flowName == "extract")
            await client.close()
        }
    }

    @Test("a flow with retries runs its body again after a failure; cached task results of the failed attempt are reused")
    func flowRetries() async throws {
        let queue = TestBroker.uniqueQueue("flowretry")
        let store = LocalResultStore(directory: FileManager.default.temporaryDirectory
            .appendingPathComponent("trib-results-\(UUID().uuidString)"))
        defer { try? FileManager.default.removeItem(at: store.directory) }
        let attempts = Mutex(0)
        let retried = Mutex<[Int]>([])
        try await withWorkers(1, queue: queue) { _ in
            let client = Tributary(broker: TestBroker.url, resultStore: store)
            let hooks = FlowHooks(onRetry: [FlowHook { info in retried.withLock { $0.append(info.attempt) } }])
            let states = try await client.run(flowNamed: "retried", options: FlowOptions(retries: 2), hooks: hooks) { flow in
                let attempt = attempts.withLock { $0 += 1; return $0 }
                let step = await flow.submit(Increment.self, 1, options: TaskOptions(queue: queue, cache: .inputs()))
                _ = try await step.value
                if attempt == 1 { throw FlakyFlow() }
                return await step.state.name
            }
            #expect(states == "Cached", "the second attempt reused the first attempt's result")
            await client.close()
        }
        #expect(attempts.withLock { $0 } == 2)
        #expect(retried.withLock { $0 } == [1], "onRetry ran once, after attempt 1")
    }

    @Test("a flow past its timeout fails with FlowTimedOut, and the task runs it waited for end Cancelled")
    func flowTimeout() async throws {
        let queue = TestBroker.uniqueQueue("flowtimeout")
        let napFuture = Mutex<TaskFuture<Nap.Report>?>(nil)
        try await withWorkers(1, queue: queue) { _ in
            let client = Tributary(broker: TestBroker.url)
            let failed = Mutex<FlowState?>(nil)
            let hooks = FlowHooks(onFailure: [FlowHook { info in failed.withLock { $0 = info.state } }])
            await #expect(throws: FlowTimedOut.self) {
                try await client.run(flowNamed: "too-slow", options: FlowOptions(timeout: .milliseconds(500)),
                                     hooks: hooks) { flow in
                    let nap = await flow.submit(Nap.self, Nap.Input(milliseconds: 10_000), options: TaskOptions(queue: queue))
                    napFuture.withLock { $0 = nap }
                    return try await nap.value
                }
            }
            #expect(failed.withLock { $0 } == .failed)
            await client.close()
        }
        let nap = try #require(napFuture.withLock { $0 })
        #expect(nap.currentState.name == "Cancelled", "the flow stopped waiting for the 10 s task")
    }

    @Test("cancelling the Swift task that runs a flow ends it Cancelled at once: the runs it waits for end Cancelled and no new one is sent")
    func cancelFromClient() async throws {
        let queue = TestBroker.uniqueQueue("cancel")
        let napFuture = Shared<TaskFuture<Nap.Report>?>(nil)
        let seen = Mutex<[FlowState]>([])
        try await withWorkers(1, queue: queue) { _ in
            // An observer makes workers report Running, which the test waits for.
            let client = Tributary(broker: TestBroker.url, onEvent: { _ in })
            let hooks = FlowHooks(onCancellation: [FlowHook { info in seen.withLock { $0.append(info.state) } }])
            let running = Task {
                try await client.run(flowNamed: "cancel-me", hooks: hooks) { flow in
                    let nap = await flow.submit(Nap.self, Nap.Input(milliseconds: 10_000), options: TaskOptions(queue: queue))
                    napFuture.value = nap
                    return try await nap.value
                }
            }
            while napFuture.value?.currentState.name != "Running" { try await Task.sleep(for: .milliseconds(20)) }
            running.cancel()
            let outcome = await running.result
            await client.close()
            #expect(throws: (any Error).self) { try outcome.get() }
        }
        #expect(seen.withLock { $0 } == [.cancelled])
        #expect(napFuture.value?.currentState.name == "Cancelled", "the flow stopped waiting for the 10 s task")
    }

}

/// A flow-level failure for the retry test.
struct FlakyFlow: Error {}

/// A value shared between a test and the flow it runs.
final class Shared<Value: Sendable>: Sendable {
    private let state: Mutex<Value>
    init(_ value: Value) { state = Mutex(value) }
    var value: Value {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
}
