import Foundation
import Testing
import Tributary
import TributaryExamples

@Suite("Payload size limits")
struct PayloadLimitTests {
    @Test("an input over the limit fails at submit with the sizes and what to do; nothing is sent")
    func oversizedInput() async throws {
        let client = Tributary.local(Examples.registry, maxPayloadBytes: 1_000)
        let state = try await client.run(flowNamed: "big-input") { flow in
            await flow.submit(Sum.self, Array(repeating: 1, count: 1_000)).state
        }
        #expect(state.name == "Failed")
        #expect(state.failure?.remoteType == "InvalidTaskCall")
        #expect(state.failure?.message.contains("over the limit of 1000") == true)
        #expect(state.failure?.attempts == 0, "it never reached a worker")
    }

    @Test("a result over the worker's limit fails the task with the reason, and the connection carries on")
    func oversizedResult() async throws {
        let queue = TestBroker.uniqueQueue("bigresult")
        let worker = try await WorkerProcess(id: "big-\(queue.suffix(6))", queue: queue,
                                             extraArguments: ["--max-payload-bytes", "10000"])
        try await withWorkers([worker]) {
            let client = Tributary(broker: TestBroker.url)
            let (big, small) = try await client.run(flowNamed: "big-result") { flow in
                let big = await flow.submit(Blob.self, 50_000, options: TaskOptions(retries: 2, queue: queue))
                let small = try await flow.call(Blob.self, 10, options: TaskOptions(queue: queue))
                return (await big.state, small)
            }
            await client.close()
            #expect(big.name == "Failed")
            #expect(big.failure?.remoteType == "OversizedResult")
            #expect(big.failure?.attempts == 1, "not retried: retrying cannot make it smaller")
            #expect(small == String(repeating: "x", count: 10))
        }
    }
}
