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

extension TaskPackingTests {
    @Test("a task returned from packs twice is sent again once, and an attempt that already has its outcome never")
    func returnsActedOnOnce() async throws {
        let queue = TestBroker.uniqueQueue("returns")
        try await withWorkers(1, queue: queue) { workers in
            let client = Tributary(broker: TestBroker.url)
            let (failed, nap) = try await client.run(flowNamed: "returns") { flow in
                let failing = await flow.submit(AlwaysFails.self, "down", options: TaskOptions(
                    retries: 1, retryDelay: .fixed(.seconds(5)), queue: queue, packing: false))
                try await waitUntil("attempt 1 failed", within: .seconds(30)) { failing.currentState.name == "Retrying" }
                // As if a pack had held attempt 1 and come back after its worker died.
                try await PackBytes.publishReturned(flowRunID: flow.flowRunID, taskRunID: "\(flow.flowRunID).1", attempt: 1)
                let napping = await flow.submit(Nap.self, Nap.Input(milliseconds: 1_500),
                                                options: TaskOptions(queue: queue, packing: false))
                for _ in 0..<2 {
                    try await PackBytes.publishReturned(flowRunID: flow.flowRunID, taskRunID: "\(flow.flowRunID).2", attempt: 1)
                }
                return (await failing.state, try await napping.value)
            }
            // The nap's copy sent again runs too; its result comes second.
            try await waitUntil("the copy's result", within: .seconds(30)) { client.statistics.duplicateResultsIgnored >= 1 }
            try await Task.sleep(for: .seconds(1))
            let statistics = client.statistics
            await client.close()
            #expect(failed.name == "Failed" && failed.failure?.attempts == 2)
            #expect(workers[0].logLines(containing: "task attempt failed") == 2, "attempt 1 ran once, then attempt 2")
            #expect(nap.deliveries == 1)
            #expect(statistics.tasksReturnedFromPacks == 1, "the nap's two returns sent it again once")
            #expect(statistics.duplicateResultsIgnored == 1, "the nap ran twice in all, not three times")
        }
    }

    @Test("tasks of a pack waiting behind a long one past the renewal delay go back to their coordinator, uncounted, and another worker runs them")
    func waitingPackTasksReturned() async throws {
        let queue = TestBroker.uniqueQueue("packwait")
        let quick = ["TRIB_RENEW_HELD_AFTER": "0.5", "TRIB_LOG_LEVEL": "debug"]
        let client = Tributary(broker: TestBroker.url)
        let flow = Task {
            try await client.run(flowNamed: "pack-wait") { (flow: FlowContext) async throws -> [Nap.Report] in
                let inputs = [Nap.Input(milliseconds: 8_000), Nap.Input(milliseconds: 100), Nap.Input(milliseconds: 100)]
                let futures = await flow.map(Nap.self, over: inputs, options: TaskOptions(queue: queue, packing: false))
                // Nobody serves the queue yet: its tasks are taken off it and sent again as one pack.
                let connection = try await AMQPConnection.connect(url: TestBroker.url)
                try await waitUntil("the three tasks are on the queue", within: .seconds(30)) {
                    try await connection.inspect(queue: AMQPBroker.amqpQueue(for: queue)).messages == 3
                }
                _ = try await connection.purge(queue: AMQPBroker.amqpQueue(for: queue))
                let entries = try zip(1..., inputs).map { index, input in
                    PackBytes.entry(taskRunID: "\(flow.flowRunID).\(index)",
                                    fields: [(1, Array("nap".utf8)), (3, [1])],
                                    input: String(decoding: try JSONEncoder().encode(input), as: UTF8.self))
                }
                try await connection.publishConfirmed(OutboundMessage(
                    routingKey: AMQPBroker.packQueue(for: queue),
                    properties: AMQPProperties(replyTo: "trib.reply.\(flow.flowRunID)", headers: ["x-trib-wire": .int(3)]),
                    body: PackBytes.pack(entries)))
                await connection.close()
                return try await futures.values()
            }
        }
        let watch = try await AMQPConnection.connect(url: TestBroker.url)
        try await waitUntil("the pack is on the pack queue", within: .seconds(30)) {
            (try? await watch.inspect(queue: AMQPBroker.packQueue(for: queue)).messages) == 1
        }
        await watch.close()
        let busy = try await WorkerProcess(id: "busy-\(queue.suffix(6))", queue: queue, concurrency: 1, prefetch: 4,
                                           environment: quick)
        var idle: WorkerProcess?
        do {
            try await waitUntil("the busy worker returned the waiting tasks", within: .seconds(20)) {
                busy.logLines(containing: "returning to their coordinator the tasks of a pack") >= 1
            }
            idle = try await WorkerProcess(id: "idle-\(queue.suffix(6))", queue: queue, concurrency: 1, environment: quick)
            let reports = try await value(of: flow, "the flow", within: .seconds(60))
            #expect(reports[0].workerID == busy.id)
            #expect(reports[1...].map(\.workerID) == [idle?.id, idle?.id], "the waiting tasks ran on the worker that was free")
            #expect(reports[1...].map(\.deliveries) == [1, 1], "returning a task that waited is not counted as a redelivery")
            #expect(client.statistics.tasksReturnedFromPacks == 2)
        } catch {
            Issue.record(error)
        }
        await client.close()
        await busy.dispose()
        await idle?.dispose()
    }
}

extension TaskPackingTests {
    @Test("retries, timeouts, states and run names hold for tasks sent in packs, and the packs spread over both workers")
    func promisesInPacks() async throws {
        let queue = TestBroker.uniqueQueue("promises")
        try await withWorkers(2, queue: queue) { workers in
            let names = Mutex<Set<String>>([])
            let client = Tributary(broker: TestBroker.url, onEvent: { event in
                if let name = event.runName { names.withLock { _ = $0.insert(name) } }
            })
            let (values, napStates, ranOn) = try await client.run(flowNamed: "pack-promises") { flow in
                // Each fails its first attempt and is retried. A burst this large goes in packs.
                let flaky = await flow.map(Flaky.self, over: (0..<1_000).map { Flaky.Input(succeedOnAttempt: 2, value: $0) },
                                           options: TaskOptions(retries: 1, queue: queue, runName: "flaky-{value}"))
                // Every other one sleeps past its timeout.
                let naps = await flow.map(Nap.self, over: (0..<64).map { Nap.Input(milliseconds: $0 % 2 == 0 ? 1_500 : 10) },
                                          options: TaskOptions(timeout: .milliseconds(400), queue: queue))
                let values = try await flaky.values()
                var states: [TaskState] = [], ranOn: Set<String> = []
                for nap in naps {
                    states.append(await nap.state)
                    if let report = try? await nap.value { ranOn.insert(report.workerID) }
                }
                return (values, states, ranOn)
            }
            let statistics = client.statistics
            await client.close()
            #expect(statistics.tasksSentInPacks > 0, "the bursts went in packs")
            #expect(values == Array(0..<1_000), "every flaky task completed on its retry")
            #expect(napStates.enumerated().allSatisfy { index, state in
                state.name == (index % 2 == 0 ? "TimedOut" : "Completed")
            }, "\(napStates.map(\.name))")
            #expect(names.withLock { $0 }.isSuperset(of: (0..<1_000).map { "flaky-\($0)" }), "each run kept its name")
            #expect(ranOn == Set(workers.map(\.id)), "both workers ran naps")
            #expect(statistics.duplicateResultsIgnored == 0)
        }
    }

    @Test("cancelling a flow whose tasks wait in packs: the running ones are cancelled, the waiting ones discarded unrun")
    func cancelledWithPacksHeld() async throws {
        let queue = TestBroker.uniqueQueue("packcancel")
        var workers: [WorkerProcess] = []
        for index in 0..<2 {
            workers.append(try await WorkerProcess(id: "pc\(index)-\(queue.suffix(6))", queue: queue, concurrency: 2,
                                                   environment: ["TRIB_LOG_LEVEL": "debug"]))
        }
        try await withWorkers(workers) {
            let client = Tributary(broker: TestBroker.url)
            // Enough that the client publishes faster than its connection's thread sends: packs form.
            let n = 1_000
            let submitted = Atomic<Bool>(false)
            let run = Task {
                try await client.run(flowNamed: "pack-cancel") { flow in
                    let naps = await flow.map(Nap.self, over: Array(repeating: Nap.Input(milliseconds: 120_000), count: n),
                                              options: TaskOptions(queue: queue))
                    submitted.store(true, ordering: .relaxed)
                    return try await naps.values()
                }
            }
            // Whatever fails below, the flow and its 1,000 two-minute tasks do not outlive the test.
            defer { run.cancel() }
            // Cancelled only once every task is sent: one submitted after the cancel is never sent at all.
            try await waitUntil("every task submitted and four running", within: .seconds(30)) {
                submitted.load(ordering: .relaxed)
                    && workers.map { $0.logLines(containing: "task attempt started") }.reduce(0, +) == 4
            }
            #expect(client.statistics.tasksSentInPacks > 0)
            run.cancel()
            await #expect(throws: CancellationError.self) { try await run.value }
            try await waitUntil("the workers to cancel or discard every task", within: .seconds(30)) {
                let queues = try await BrokerAdmin.queues().filter { $0.key.hasSuffix(queue) }
                return workers.map { $0.logLines(containing: "task attempt cancelled") }.reduce(0, +) == 4
                    && queues.values.allSatisfy { $0.messages == 0 }
            }
            await client.close()
            var discarded = 0, completed = 0
            for worker in workers {
                await worker.stop()
                let closing = worker.log.split(separator: "\n").last { $0.contains("worker stopped") }.map(String.init) ?? ""
                discarded += Self.count("discarded", in: closing)
                completed += Self.count("completed", in: closing)
            }
            #expect(completed == 0)
            #expect(discarded == n - 4, "every task that waited in a pack was discarded unrun")
            #expect(workers.map { $0.logLines(containing: "task attempt started") }.reduce(0, +) == 4, "none of them started")
        }
    }

    /// The number after `name=` in a log line.
    static func count(_ name: String, in line: String) -> Int {
        guard let range = line.range(of: "\(name)=") else { return -1 }
        return Int(line[range.upperBound...].prefix { $0.isNumber }) ?? -1
    }
}

/// Task packs built byte by byte, as another producer might send them (docs/wire-format.md).
enum PackBytes {
    static func entry(taskRunID: String, fields: [(UInt8, [UInt8])], input: String) -> [UInt8] {
        var bytes = field(8, Array(taskRunID.utf8))
        for (tag, value) in fields { bytes += field(tag, value) }
        return bytes + [0] + Array(input.utf8)
    }

    /// Publishes to a flow's reply queue a `returned` result for `taskRunID`'s attempt `attempt`, as
    /// a worker does for each task of a pack that comes back, with delivery count 2.
    static func publishReturned(flowRunID: String, taskRunID: String, attempt: UInt8) async throws {
        let connection = try await AMQPConnection.connect(url: TestBroker.url)
        try await connection.publishConfirmed(OutboundMessage(
            routingKey: "trib.reply.\(flowRunID)",
            properties: AMQPProperties(correlationID: taskRunID, headers: ["x-trib-wire": .int(2)]),
            body: field(1, Array("returned".utf8)) + field(2, [attempt]) + field(9, [2]) + [0]))
        await connection.close()
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
