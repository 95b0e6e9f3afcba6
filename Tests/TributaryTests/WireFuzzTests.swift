import AMQPClient
import Foundation
import Testing
import Tributary
import TributaryExamples

/// A bounded fuzz loop over the wire decoding. `TRIB_FUZZ_CASES` sets how many messages each test
/// sends (the suite sends 300; run e.g. 20000 by hand), `TRIB_FUZZ_SEED` replays a run. Both tests
/// watch the shared `trib.dead` at once, so each names its cases after its own queue.
@Suite("Fuzzed wire messages on a task queue and a reply queue, against a real broker and worker")
struct WireFuzzTests {
    static let cases = Int(ProcessInfo.processInfo.environment["TRIB_FUZZ_CASES"] ?? "") ?? 300
    static func seed() -> UInt64 {
        UInt64(ProcessInfo.processInfo.environment["TRIB_FUZZ_SEED"] ?? "") ?? UInt64.random(in: 0...UInt64.max)
    }

    @Test("every broken message on a task queue is dead-lettered with a reason, and the worker keeps serving")
    func taskQueue() async throws {
        let seed = Self.seed()
        print("wire fuzz (task queue): \(Self.cases) cases, TRIB_FUZZ_SEED=\(seed)")
        let queue = TestBroker.uniqueQueue("fuzz")
        try await withWorkers(1, queue: queue) { workers in
            let deadLetters = try await DeadLetterWatch.start()
            // The queue must exist before anything is published onto it.
            let client = Tributary(broker: TestBroker.url)
            _ = try await client.run(flowNamed: "fuzz-warmup") { flow in
                try await flow.call(Increment.self, 0, options: TaskOptions(queue: queue))
            }
            let connection = try await AMQPConnection.connect(url: TestBroker.url)
            var fuzzer = WireFuzzer(seed: seed)
            for number in 0..<Self.cases {
                try await connection.publishConfirmed(fuzzer.task(number: "\(queue):\(number)", queue: queue))
            }
            await connection.close()

            let dead = try await deadLetters.collect(byHeader: WireFuzzer.caseHeader, count: Self.cases,
                                                     within: .seconds(60)) { $0.hasPrefix("\(queue):") }
            await deadLetters.stop()
            let missing = (0..<Self.cases).map { "\(queue):\($0)" }.filter { dead[$0] == nil }
            #expect(missing.isEmpty, "not dead-lettered (seed \(seed)): cases \(missing.prefix(20))")
            let withoutReason = dead.filter { $0.value.properties.headers["x-trib-dead-reason"]?.stringValue?.isEmpty != false }
            #expect(withoutReason.isEmpty, "dead-lettered without a reason: cases \(withoutReason.keys.sorted().prefix(20))")

            // The worker is still up and still serves the queue.
            #expect(workers[0].process.isRunning)
            let after = try await client.run(flowNamed: "fuzz-after") { flow in
                try await flow.call(Increment.self, 41, options: TaskOptions(queue: queue))
            }
            #expect(after == 42)
            await client.close()
        }
    }

    @Test("every broken message on a flow's reply queue is dead-lettered and counted, and the flow completes")
    func replyQueue() async throws {
        let seed = Self.seed()
        print("wire fuzz (reply queue): \(Self.cases) cases, TRIB_FUZZ_SEED=\(seed)")
        let queue = TestBroker.uniqueQueue("fuzzreply")
        try await withWorkers(1, queue: queue) { workers in
            let deadLetters = try await DeadLetterWatch.start()
            let client = Tributary(broker: TestBroker.url)
            let results = try await client.run(flowNamed: "fuzz-replies") { flow in
                let futures = await flow.map(Increment.self, over: 0..<50, options: TaskOptions(queue: queue))
                // While the tasks run, the fuzzer writes onto this flow run's reply queue.
                let connection = try await AMQPConnection.connect(url: TestBroker.url)
                var fuzzer = WireFuzzer(seed: seed)
                for number in 0..<Self.cases {
                    try await connection.publishConfirmed(
                        fuzzer.result(number: "\(queue):\(number)", replyQueue: "trib.reply.\(flow.flowRunID)"))
                }
                await connection.close()
                // Confirmed means queued, not yet read: the reply queue goes away with the flow run,
                // and with it any message still on it, so the flow waits until the client read them all.
                try? await waitUntil("the client read every fuzzed reply", within: .seconds(30)) {
                    client.statistics.malformedRepliesDeadLettered >= Self.cases
                }
                return try await futures.values()
            }
            #expect(results == Array(1...50))

            let dead = try await deadLetters.collect(byHeader: WireFuzzer.caseHeader, count: Self.cases,
                                                     within: .seconds(60)) { $0.hasPrefix("\(queue):") }
            await deadLetters.stop()
            #expect(dead.count == Self.cases, "dead-lettered \(dead.count) of \(Self.cases) (seed \(seed))")
            #expect(dead.values.allSatisfy { $0.properties.headers["x-trib-dead-reason"]?.stringValue?.isEmpty == false })
            #expect(client.statistics.malformedRepliesDeadLettered == Self.cases)
            #expect(workers[0].process.isRunning)
            await client.close()
        }
    }
}
