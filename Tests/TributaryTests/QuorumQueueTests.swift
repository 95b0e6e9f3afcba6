import Foundation
import Testing
import Tributary
import TributaryExamples

/// `queue_type=quorum` in the broker URL: the queues that hold work are quorum queues (replicated
/// on a cluster; on this one node, durable as before), and flows run on them as on classic ones.
@Suite("Quorum queues", .serialized)
struct QuorumQueueTests {
    /// A vhost of its own: a queue keeps the type it was made with, so these tests do not share
    /// queues (the dead-letter queue above all) with the rest of the suite.
    static let vhost = "trib-quorum"
    static var url: String { "amqp://guest:guest@localhost:5672/\(vhost)?queue_type=quorum" }

    @Test("a submitted run and its tasks go through quorum queues: work queue and its limit and slots, the run's status board, task queue and dead-letter queue")
    func flowOnQuorumQueues() async throws {
        try await BrokerAdmin.ensureVhost(Self.vhost)
        let queue = TestBroker.uniqueQueue("quorum"), workQueue = TestBroker.uniqueQueue("quorum-wq")
        let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue, broker: Self.url)
        let agent = try await WorkerProcess.agent(id: "agent-\(workQueue.suffix(6))", workQueue: workQueue,
                                                  broker: Self.url)
        let runID = try await withWorkers([worker, agent]) {
            let client = Tributary(broker: Self.url)
            // Limited, so the agent runs it on a slot of the limit's own queue.
            try await client.setLimit(1, ofWorkQueue: workQueue)
            let handle = try await client.submit(SlowFanout.self, SlowFanout.Input(count: 10, milliseconds: 10, queue: queue),
                                                 workQueue: workQueue)
            #expect(try await handle.result() == 55)
            await client.close()
            return handle.id
        }
        let types = try await Self.queueTypes()
        #expect(types[AMQPBroker.boardQueue(for: runID)] == "quorum")
        #expect(types[AMQPBroker.limitQueue(forWorkQueue: workQueue)] == "quorum")
        #expect(types[AMQPBroker.slotQueue(forWorkQueue: workQueue)] == "quorum")
        #expect(types["trib.q.\(queue)"] == "quorum")
        #expect(types["trib.flows.\(workQueue)"] == "quorum")
        #expect(types["trib.dead"] == "quorum")
    }

    @Test("a process given the other queue type is refused with the queue, the setting and the way out")
    func mismatchedTypeIsRefused() async throws {
        try await BrokerAdmin.ensureVhost(Self.vhost)
        // The dead-letter queue is made quorum by the first process (this one, if it runs first).
        let client = Tributary(broker: Self.url)
        try await client.setLimit(nil, ofWorkQueue: TestBroker.uniqueQueue("quorum-wq"))
        await client.close()
        let classic = "amqp://guest:guest@localhost:5672/\(Self.vhost)"
        let result = try await Command.trib(["worker", "--broker", classic, "--queue", TestBroker.uniqueQueue("quorum")])
        #expect(result.status != 0)
        #expect(result.output.contains("queue 'trib.dead' exists with another type than classic"), "\(result.output)")
        #expect(result.output.contains("queue_type") && result.output.contains("rabbitmqctl delete_queue trib.dead"))
    }

    /// Each queue of the vhost with its type.
    private static func queueTypes() async throws -> [String: String] {
        let text = try await Command.rabbitmqctl(["list_queues", "-p", vhost, "--no-table-headers", "name", "type"])
        var types: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let columns = line.split(separator: "\t")
            if columns.count == 2 { types[String(columns[0])] = String(columns[1]) }
        }
        return types
    }
}
