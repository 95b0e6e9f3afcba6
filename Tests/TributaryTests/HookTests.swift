import Foundation
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import Tributary
@testable import TributaryWebhooks
import TributaryExamples

@Suite("Hooks and notifications, with real workers over RabbitMQ")
struct HookTests {
    @Test("task hooks run in the coordinator with the run's state: onRetry per retry, then onCompletion or onFailure")
    func taskHooks() async throws {
        let queue = TestBroker.uniqueQueue("hooks")
        let calls = Mutex<[String]>([])
        let record = TaskHook { info in calls.withLock { $0.append("\(info.taskName) \(info.state.name) #\(info.attempt)") } }
        try await withWorkers(1, queue: queue) { _ in
            let client = Tributary(broker: TestBroker.url)
            let options = TaskOptions(retries: 2, queue: queue, onCompletion: [record], onFailure: [record],
                                      onRetry: [record])
            _ = try await client.run(flowNamed: "task-hooks") { flow in
                let flaky = await flow.submit(Flaky.self, Flaky.Input(succeedOnAttempt: 2, value: 7), options: options)
                let failing = await flow.submit(AlwaysFails.self, "disk full", options: options)
                return (try await flaky.value, await failing.state)
            }
            await client.close()
        }
        #expect(calls.withLock { $0 }.sorted() == [
            "always-fails Failed #3", "always-fails Retrying #1", "always-fails Retrying #2",
            "flaky Completed #2", "flaky Retrying #1",
        ])
    }

    @Test("flow hooks run with the flow's final state: Completed, Failed, Crashed, Cancelled")
    func flowHooks() async throws {
        let seen = Mutex<[String]>([])
        let record = FlowHook { info in seen.withLock { $0.append("\(info.flowName) \(info.state.rawValue)") } }
        let hooks = FlowHooks(onCompletion: [record], onFailure: [record], onCrashed: [record], onCancellation: [record])
        let queue = TestBroker.uniqueQueue("flowhooks")
        try await withWorkers(1, queue: queue) { _ in
            let client = Tributary(broker: TestBroker.url)
            _ = try await client.run(flowNamed: "fine", hooks: hooks) { flow in
                try await flow.call(Increment.self, 1, options: TaskOptions(queue: queue))
            }
            _ = try? await client.run(flowNamed: "throws", hooks: hooks) { flow in
                try await flow.call(AlwaysFails.self, "boom", options: TaskOptions(queue: queue))
            }
            let cancelled = Task {
                try await client.run(flowNamed: "cancelled", hooks: hooks) { flow in
                    try await Task.sleep(for: .seconds(30))
                }
            }
            try await Task.sleep(for: .milliseconds(300))
            cancelled.cancel()
            _ = await cancelled.result
            await client.close()
        }
        let unreachable = Tributary(broker: "amqp://guest:guest@127.0.0.1:1/?connection_timeout=1000")
        _ = try? await unreachable.run(flowNamed: "no-broker", hooks: hooks) { _ in 0 }
        #expect(seen.withLock { $0 }.sorted() == [
            "cancelled Cancelled", "fine Completed", "no-broker Crashed", "throws Failed",
        ])
    }

    @Test("a webhook notifier POSTs the failed flow's state as JSON, retrying a server error")
    func webhookOnFailure() async throws {
        let receiver = try await WebhookReceiver.start(failFirst: 1)
        let webhook = WebhookNotifier(url: receiver.url, retryDelay: .milliseconds(50))
        let queue = TestBroker.uniqueQueue("webhook")
        try await withWorkers(1, queue: queue) { _ in
            let client = Tributary(broker: TestBroker.url)
            let hooks = FlowHooks(onFailure: [.notify(webhook), .notify(LogNotifier())])
            await #expect(throws: TaskFailure.self) {
                try await client.run(flowNamed: "nightly-etl", hooks: hooks) { flow in
                    try await flow.call(AlwaysFails.self, "upstream API down", options: TaskOptions(queue: queue))
                }
            }
            await client.close()
        }
        let bodies = try await receiver.waitForBodies(2)
        await receiver.stop()
        #expect(bodies.count == 2, "one refused with 500, then delivered")
        let delivered = try #require(bodies.last)
        #expect(delivered["kind"] as? String == "flow")
        #expect(delivered["name"] as? String == "nightly-etl")
        #expect(delivered["state"] as? String == "Failed")
        #expect((delivered["message"] as? String)?.contains("upstream API down") == true)
    }

    @Test("a webhook that cannot be reached never fails the flow")
    func unreachableWebhook() async throws {
        let webhook = WebhookNotifier(url: "http://127.0.0.1:1/nowhere", timeout: .seconds(1), retries: 1,
                                      retryDelay: .milliseconds(10))
        let queue = TestBroker.uniqueQueue("webhook-down")
        try await withWorkers(1, queue: queue) { _ in
            let client = Tributary(broker: TestBroker.url)
            let value = try await client.run(flowNamed: "still-fine",
                                             hooks: FlowHooks(onCompletion: [.notify(webhook)])) { flow in
                try await flow.call(Increment.self, 41, options: TaskOptions(queue: queue,
                                                                             onCompletion: [.notify(webhook)]))
            }
            #expect(value == 42)
            await client.close()
        }
    }

    @Test("a webhook's failure says why in words: a refused connection, or a URL that is not http(s)")
    func webhookErrorsInWords() async throws {
        do {
            _ = try await URLSession.shared.data(for: URLRequest(url: URL(string: "http://127.0.0.1:1/nowhere")!))
            Issue.record("port 1 answered")
        } catch {
            #expect(WebhookNotifier.reason(error) == "connection refused")
        }
        #expect("\(WebhookError(url: "ftp://example.com/x", problem: "it is not an http:// or https:// URL"))"
            == "webhook ftp://example.com/x not sent: it is not an http:// or https:// URL")
    }
}
