import Foundation
import Testing
import Tributary

@Suite("A coordinator that dies", .serialized)
struct CoordinatorFaultTests {
    @Test("killing the client mid-flow leaves the workers running, its queue drained, and its reply queue gone a minute later")
    func clientKilled() async throws {
        let queue = TestBroker.uniqueQueue("orphan")
        let worker = try await WorkerProcess(id: "orphan-\(queue.suffix(6))", queue: queue, concurrency: 4)
        try await withWorkers([worker]) {
            let client = try FlowProcess(flow: "slow-fanout",
                                         input: #"{"count": 100, "milliseconds": 300, "queue": "\#(queue)"}"#)
            defer { Task { await client.dispose() } }
            // Its flow-run id names its reply queue.
            let flowRunID = try await client.flowRunID()
            try await Task.sleep(for: .milliseconds(1_200))
            #expect(client.process.isRunning, "the flow was still running when its client was killed")
            await client.killHard()
            #expect(client.process.ending?.reason == .uncaughtSignal)
            #expect(client.output.isEmpty, "the flow never printed a result")

            let deadline = ContinuousClock.now + .seconds(30)
            var queues = try await BrokerAdmin.queues()
            while (queues["trib.q.\(queue)"]?.messages ?? 1) > 0 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
                queues = try await BrokerAdmin.queues()
            }
            #expect(queues["trib.q.\(queue)"]?.messages == 0, "the worker took every task the dead client left")
            #expect(worker.process.isRunning, "the worker carried on")
            // It outlives a reconnect, not a dead coordinator: the broker deletes it a minute after its last use.
            try await waitUntil("the dead client's reply queue to go", within: .seconds(100)) {
                try await BrokerAdmin.queues()["trib.reply.\(flowRunID)"] == nil
            }
        }
    }
}
