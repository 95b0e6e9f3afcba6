import AMQPClient
import Foundation
import Testing
import Tributary
import TributaryExamples

@Suite("Messages that are not valid tasks, on a real broker", .serialized)
struct MalformedMessageTests {
    @Test("a malformed message published straight onto a task queue is dead-lettered with its reason",
          arguments: [
              ("no Tributary headers", AMQPTable(), "missing header x-trib-wire"),
              ("a wire version from the future", ["x-trib-wire": .int(99)], "unsupported wire version 99"),
              ("a task message of wire version 1 (fields in headers)", ["x-trib-wire": .int(1), "x-trib-attempt": .int(1)],
               "unsupported wire version 1"),
              ("a body that is not an envelope", ["x-trib-wire": .int(2)], "the body is not a task envelope"),
          ])
    func deadLettered(label: String, headers: AMQPTable, reason: String) async throws {
        let queue = TestBroker.uniqueQueue("malformed")
        try await withWorkers(1, queue: queue) { workers in
            let deadLetters = try await DeadLetterWatch.start()
            let connection = try await AMQPConnection.connect(url: TestBroker.url)
            let id = "malformed-\(UUID().uuidString)"
            try await connection.publishConfirmed(OutboundMessage(
                exchange: AMQPBroker.taskExchange, routingKey: queue,
                properties: AMQPProperties(correlationID: id, replyTo: "test-nowhere", headers: headers),
                body: Array("\u{FF}not json".utf8)))
            await connection.close()
            let dead = try #require(try await deadLetters.find(id: id), "\(label): not found in trib.dead")
            await deadLetters.stop()
            #expect(dead.properties.headers["x-trib-dead-reason"]?.stringValue?.contains(reason) == true)
            #expect(dead.body == Array("\u{FF}not json".utf8), "the body is kept as it came")
            #expect(workers[0].process.isRunning, "the worker stays up")
        }
    }

    @Test("a worker of wire version 1 answers a task: the task ends Failed with the reason, and the flow does not wait for ever")
    func answerOfAnotherVersion() async throws {
        let queue = TestBroker.uniqueQueue("oldworker")
        let client = Tributary(broker: TestBroker.url)
        let state = try await client.run(flowNamed: "old-worker") { flow in
            // Nobody serves the queue: the only answer is the one published below, as a worker of
            // the previous release sends it (its fields in headers) when it refuses a version-2 task.
            let future = await flow.submit(Increment.self, 1, options: TaskOptions(queue: queue))
            let connection = try await AMQPConnection.connect(url: TestBroker.url)
            try await connection.publishConfirmed(OutboundMessage(
                routingKey: "trib.reply.\(flow.flowRunID)",
                properties: AMQPProperties(contentType: "application/json", correlationID: "\(flow.flowRunID).1", headers: [
                    "x-trib-wire": .int(1), "x-trib-status": .string("rejected"), "x-trib-attempt": .int(1),
                    "x-trib-worker": .string("old-worker"),
                ]),
                body: Array(#"{"type":"Rejected","message":"unsupported wire version 2","retryable":false}"#.utf8)))
            await connection.close()
            return await future.state
        }
        #expect(state.name == "Failed")
        #expect(state.failure?.message.contains("unsupported wire version 1") == true, "\(String(describing: state.failure))")
        #expect(client.statistics.malformedRepliesDeadLettered == 1)
        await client.close()
    }

    @Test("a task whose input is not valid JSON for it is rejected to the flow and dead-lettered")
    func undecodableInput() async throws {
        let queue = TestBroker.uniqueQueue("badinput")
        try await withWorkers(1, queue: queue) { _ in
            let client = Tributary(broker: TestBroker.url)
            let state = try await client.run(flowNamed: "bad-input") { flow in
                // Same name as `square` (which takes an Int), but sends a string.
                await flow.submit(SquareOfText.self, "seven", options: TaskOptions(queue: queue)).state
            }
            #expect(state.name == "Failed")
            #expect(state.failure?.message.contains("not valid JSON for Int") == true)
            await client.close()
        }
    }
}

/// Claims the worker's `square` task name with the wrong input type.
struct SquareOfText: TaskDefinition {
    static let name = "square"
    func run(_ text: String, context: TaskContext) async throws -> Int { 0 }
}
