import AMQPClient
import Foundation
import Synchronization
import Testing
import Tributary
import TributaryExamples

@Suite("Tasks sent in packs, over RabbitMQ with real worker processes", .serialized)
struct TaskPackingTests {
    @Test("a fan-out over two workers travels in packs, and every result reaches the flow once")
    func fanOutInPacks() async throws {
        let queue = TestBroker.uniqueQueue("packs")
        try await withWorkers(2, queue: queue) { _ in
            let client = Tributary(broker: TestBroker.url)
            let n = 2_000
            let total = try await client.run(flowNamed: "packed-fanout") { flow in
                try await flow.map(Increment.self, over: Array(0..<n), options: TaskOptions(queue: queue)).values().reduce(0, +)
            }
            let statistics = client.statistics
            await client.close()
            #expect(total == (1...n).reduce(0, +))
            #expect(statistics.tasksSentInPacks > 0, "the burst went in packs")
            #expect(statistics.duplicateResultsIgnored == 0 && statistics.tasksReturnedFromPacks == 0)
        }
    }

    @Test("with packing off in the task's options, every task goes alone")
    func packingOff() async throws {
        let queue = TestBroker.uniqueQueue("nopacks")
        try await withWorkers(2, queue: queue) { _ in
            let client = Tributary(broker: TestBroker.url)
            let total = try await client.run(flowNamed: "unpacked-fanout") { flow in
                try await flow.map(Increment.self, over: Array(0..<500), options: TaskOptions(queue: queue, packing: false))
                    .values().reduce(0, +)
            }
            #expect(total == (1...500).reduce(0, +))
            #expect(client.statistics.tasksSentInPacks == 0)
            await client.close()
        }
    }

    @Test("while a consumer of the queue does not read packs (a worker of an older release), no task is packed")
    func consumerThatReadsNoPacks() async throws {
        let queue = TestBroker.uniqueQueue("oldfleet")
        try await withWorkers(1, queue: queue) { _ in
            // Takes one task from the plain queue and holds it, as a worker that reads no packs would.
            let old = try await AMQPConnection.connect(url: TestBroker.url)
            let held = Mutex<Int>(0)
            _ = try await old.consume(queue: AMQPBroker.amqpQueue(for: queue), prefetch: 1, onDelivery: { _ in
                held.withLock { $0 += 1 }
            }, onEnd: {})
            let client = Tributary(broker: TestBroker.url)
            let n = 300
            let flow = Task {
                try await client.run(flowNamed: "mixed-fleet") { flow in
                    try await flow.map(Increment.self, over: Array(0..<n), options: TaskOptions(queue: queue)).values().reduce(0, +)
                }
            }
            try await waitUntil("the old consumer holds a task", within: .seconds(30)) { held.withLock { $0 } == 1 }
            #expect(client.statistics.tasksSentInPacks == 0, "a pack would never reach a consumer that reads none")
            // Its task goes back to the queue and to the worker.
            await old.close()
            #expect(try await flow.value == (1...n).reduce(0, +))
            await client.close()
        }
    }

    @Test("""
        a worker killed holding packs: its packs are returned unrun, the tasks still waited for are sent again alone, \
        finished ones never run again, and every result reaches the flow once
        """)
    func workerKilledHoldingPacks() async throws {
        let queue = TestBroker.uniqueQueue("packkill")
        let doomed = try await WorkerProcess(id: "doomed-\(queue.suffix(6))", queue: queue, concurrency: 4)
        let survivor = try await WorkerProcess(id: "survivor-\(queue.suffix(6))", queue: queue, concurrency: 4)
        try await withWorkers([doomed, survivor]) {
            let client = Tributary(broker: TestBroker.url)
            let n = 96
            let reports = try await client.run(flowNamed: "pack-kill") { flow in
                let futures = await flow.map(Nap.self, over: Array(repeating: Nap.Input(milliseconds: 400), count: n),
                                             options: TaskOptions(queue: queue))
                // Killed once each worker has finished a round of tasks: it still holds packs with tasks not started.
                while futures.filter({ $0.currentState.isCompleted }).count < 8 {
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(await doomed.killHard(), "the worker died by SIGKILL")
                return try await futures.values()
            }
            let statistics = client.statistics
            await client.close()
            #expect(reports.count == n)
            #expect(statistics.tasksSentInPacks > 0)
            #expect(statistics.tasksReturnedFromPacks > 0, "the dead worker's packs came back to the flow")
            #expect(reports.contains { $0.deliveries == 2 && $0.workerID == survivor.id }, "returned tasks ran again, alone")
            #expect(statistics.duplicateResultsIgnored == 0, "no task that had finished ran again")
            #expect(survivor.logLines(containing: "returning a pack that was handed out before") > 0)
        }
    }

    @Test("a pack with one malformed task: its neighbours run, and it alone is rejected to the flow and dead-lettered")
    func malformedTaskInPack() async throws {
        let served = TestBroker.uniqueQueue("badpack")
        try await withWorkers(1, queue: served) { workers in
            let deadLetters = try await DeadLetterWatch.start()
            let client = Tributary(broker: TestBroker.url)
            let states = try await client.run(flowNamed: "bad-pack") { flow in
                // Sent to a queue nobody serves: the only answers come from the pack published below.
                let futures = await flow.map(Increment.self, over: [10, 20, 30],
                                             options: TaskOptions(queue: TestBroker.uniqueQueue("unserved"), packing: false))
                let ids = (1...3).map { "\(flow.flowRunID).\($0)" }
                let entries = [
                    PackBytes.entry(taskRunID: ids[0], fields: [(1, Array("inc".utf8)), (3, [1])], input: "10"),
                    PackBytes.entry(taskRunID: ids[1], fields: [(1, Array("inc".utf8)), (3, [0])], input: "20"),
                    PackBytes.entry(taskRunID: ids[2], fields: [(1, Array("inc".utf8)), (3, [1])], input: "30"),
                ]
                let connection = try await AMQPConnection.connect(url: TestBroker.url)
                try await connection.publishConfirmed(OutboundMessage(
                    routingKey: AMQPBroker.packQueue(for: served),
                    properties: AMQPProperties(replyTo: "trib.reply.\(flow.flowRunID)", headers: ["x-trib-wire": .int(3)]),
                    body: PackBytes.pack(entries)))
                await connection.close()
                var states: [TaskState] = []
                for future in futures { states.append(await future.state) }
                return (states, ids[1])
            }
            let (ended, badID) = states
            #expect(ended.map(\.name) == ["Completed", "Failed", "Completed"])
            #expect(ended[1].failure?.message.contains("task 2 of a pack of 3: the attempt") == true,
                    "\(String(describing: ended[1].failure))")
            let dead = try #require(try await deadLetters.find(id: badID), "the bad task is in trib.dead")
            await deadLetters.stop()
            #expect(dead.properties.headers["x-trib-dead-reason"]?.stringValue?.contains("task 2 of a pack of 3") == true)
            #expect(workers[0].process.isRunning, "the worker stays up")
            await client.close()
        }
    }
}

/// Task packs built byte by byte, as another producer might send them (docs/wire-format.md).
enum PackBytes {
    static func entry(taskRunID: String, fields: [(UInt8, [UInt8])], input: String) -> [UInt8] {
        var bytes = field(8, Array(taskRunID.utf8))
        for (tag, value) in fields { bytes += field(tag, value) }
        return bytes + [0] + Array(input.utf8)
    }

    static func pack(_ entries: [[UInt8]]) -> [UInt8] {
        var bytes = field(9, leb128(UInt64(entries.count))) + [0]
        for entry in entries { bytes += leb128(UInt64(entry.count)) + entry }
        return bytes
    }

    private static func field(_ tag: UInt8, _ value: [UInt8]) -> [UInt8] {
        [tag] + leb128(UInt64(value.count)) + value
    }

    private static func leb128(_ value: UInt64) -> [UInt8] {
        var value = value, bytes: [UInt8] = []
        repeat {
            var byte = UInt8(value & 0x7F)
            value >>= 7
            if value != 0 { byte |= 0x80 }
            bytes.append(byte)
        } while value != 0
        return bytes
    }
}
