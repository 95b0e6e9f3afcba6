import Foundation
import Synchronization
import Testing
import Tributary
import TributaryExamples

@Suite("Work that no worker takes")
struct UnservedQueueTests {
    @Test("a flow on a queue nobody serves is reported within seconds, naming the queue and the command; it completes once a worker starts")
    func unservedQueueIsReported() async throws {
        let queue = TestBroker.uniqueQueue("nobody")
        let alerts = Mutex<[QueueAlert]>([])
        let client = Tributary(broker: TestBroker.url, onQueueAlert: { alert in alerts.withLock { $0.append(alert) } })
        let flow = Task {
            try await client.run(flowNamed: "unserved") { flow in
                try await flow.map(Increment.self, over: 0..<3, options: TaskOptions(queue: queue)).values()
            }
        }
        do {
            // Said after 3 s without a consumer; a loaded CI machine can take far longer to get there.
            try await waitUntil("a warning about queue \(queue)", within: .seconds(45)) {
                alerts.withLock { !$0.isEmpty }
            }
            guard case .unserved(let named, let waiting, let command)? = alerts.withLock({ $0.first }) else {
                Issue.record("the first alert says the queue is unserved: \(alerts.withLock { $0 })")
                flow.cancel()
                await client.close()
                return
            }
            #expect(named == queue)
            #expect(waiting == 3, "all three task runs wait on it")
            #expect(command.hasSuffix("worker --queue \(queue)"))
            let worker = try await WorkerProcess(id: "late-\(queue.suffix(6))", queue: queue)
            try await withWorkers([worker]) {
                #expect(try await flow.value == [1, 2, 3])
                try await waitUntil("the queue reported served", within: .seconds(30)) {
                    alerts.withLock { $0.contains(.served(queue: queue)) }
                }
            }
            #expect(alerts.withLock { $0.filter { if case .unserved = $0 { true } else { false } }.count } == 1,
                    "said once")
        } catch {
            flow.cancel()
            await client.close()
            throw error
        }
        await client.close()
    }

    @Test("a queue with a worker is never reported")
    func servedQueueIsQuiet() async throws {
        let queue = TestBroker.uniqueQueue("served")
        let alerts = Mutex<[QueueAlert]>([])
        // Longer than the watch's patience: 8 tasks of 1.5 s, two at a time.
        try await withWorkers(1, queue: queue, concurrency: 2) { _ in
            let client = Tributary(broker: TestBroker.url, onQueueAlert: { alert in alerts.withLock { $0.append(alert) } })
            let values = try await client.run(flowNamed: "served") { flow in
                try await flow.map(SlowIncrement.self, over: (0..<8).map { SlowIncrement.Input(value: $0, milliseconds: 1_500) },
                                   options: TaskOptions(queue: queue)).values()
            }
            await client.close()
            #expect(values == Array(1...8))
        }
        #expect(alerts.withLock { $0 }.isEmpty)
    }
}
