@testable import AMQPClient
import Testing
@testable import Tributary

@Suite("Task and result messages on the wire (version 2: a body envelope)")
struct WireFormatTests {
    static func delivery(_ message: OutboundMessage) -> AMQPDelivery {
        AMQPDelivery(tag: DeliveryTag(value: 1, generation: 0), redelivered: false, exchange: message.exchange,
                     routingKey: message.routingKey, properties: message.properties, body: message.body)
    }

    @Test("a task message keeps every field through encoding, with one header and no properties the broker need not read")
    func taskRoundTrip() throws {
        let task = TaskMessage(taskRunID: "run-1.abc-1", flowRunID: "run-1", taskName: "päckchen", queue: "q",
                               attempt: 3, timeout: .milliseconds(2_500), replyTo: "trib.reply.run-1", persistent: true,
                               reportRunning: true, deliveries: 4, epoch: 7, input: Array(#"{"x":[1,2,3]}"#.utf8))
        let message = WireFormat.encode(task, exchange: "trib.tasks")
        #expect(message.properties.headers.count == 1)
        #expect(message.properties.headers["x-trib-wire"]?.intValue == 2)
        #expect(message.properties.type == nil && message.properties.messageID == nil && message.properties.contentType == nil)
        #expect(try WireFormat.decodeTask(Self.delivery(message), queue: "q").get() == task)

        var bare = task
        bare.timeout = nil; bare.reportRunning = false; bare.deliveries = 1; bare.epoch = nil; bare.input = []
        #expect(try WireFormat.decodeTask(Self.delivery(WireFormat.encode(bare, exchange: "trib.tasks")), queue: "q").get() == bare)
    }

    @Test("a result message keeps its status, attempt, worker, start time, logs and body")
    func resultRoundTrip() throws {
        var result = ResultMessage(taskRunID: "run-1.abc-1", attempt: 2, status: .failed, workerID: "w-1",
                                   body: Array(#"{"type":"E","message":"m","retryable":true}"#.utf8))
        result.startedAt = 1_764_936_000.125
        result.logs = [TaskLogRecord(level: "info", message: "hello", at: 1_764_936_000.5)]
        let decoded = WireFormat.decodeResults(Self.delivery(WireFormat.encode(result, replyTo: "r")))
        #expect(decoded.count == 1)
        #expect(try decoded.first?.get() == result)
    }

    static func results(_ count: Int) -> [ResultMessage] {
        (1...count).map { n in
            var result = ResultMessage(taskRunID: "run-1.\(n)", attempt: 1, status: .completed, workerID: "w-\(n % 2)",
                                       body: Array("\(n * n)".utf8))
            if n.isMultiple(of: 2) { result.startedAt = Double(n) }
            return result
        }
    }

    @Test("results packed into one message come out as the same results, in order")
    func resultPack() throws {
        let results = Self.results(5)
        let pack = WireFormat.packResults(results.map { WireFormat.encode($0, replyTo: "trib.reply.run-1") })
        #expect(pack.routingKey == "trib.reply.run-1")
        #expect(pack.properties.correlationID == nil && pack.properties.headers["x-trib-wire"]?.intValue == 2)
        #expect(try WireFormat.decodeResults(Self.delivery(pack)).map { try $0.get() } == results)
    }

    @Test("a bad result inside a pack is refused alone, with its place in the pack; its neighbours are decoded")
    func badResultInPack() throws {
        var messages = Self.results(3).map { WireFormat.encode($0, replyTo: "r") }
        messages[1].body = [2, 3, 0x61, 0x62, 0x63, 0]  // status field holding an attempt-less "abc"
        let decoded = WireFormat.decodeResults(Self.delivery(WireFormat.packResults(messages)))
        #expect(decoded.count == 3)
        #expect(try decoded[0].get().taskRunID == "run-1.1" && decoded[2].get().taskRunID == "run-1.3")
        guard case .failure(let problem) = decoded[1] else { Issue.record("accepted a bad result"); return }
        #expect(problem.reason.hasPrefix("result 2 of a pack of 3: "), "\(problem.reason)")
        #expect(problem.taskRunID == "run-1.2")
    }

    @Test("a pack whose count is below 2 or does not match what it holds is refused whole",
          arguments: [(4, "says it holds 4 results and holds 3"), (1, "holds 2 results or more"), (0, "holds 2 results or more")])
    func packCountMismatch(count: UInt8, reason: String) {
        let pack = WireFormat.packResults(Self.results(3).map { WireFormat.encode($0, replyTo: "r") })
        var body = pack.body
        body[2] = count  // the count field's value, 3
        let message = OutboundMessage(routingKey: "r", properties: pack.properties, body: body)
        let decoded = WireFormat.decodeResults(Self.delivery(message))
        guard decoded.count == 1, case .failure(let problem) = decoded[0] else { Issue.record("\(decoded)"); return }
        #expect(problem.reason.contains(reason), "\(problem.reason)")
    }

    @Test("a broken envelope is refused with a reason that names what is wrong",
          arguments: [
              ([UInt8](), "has no end"),
              ([1, 3, 0x61], "longer than the message"),
              ([1, 1, 0x61, 1, 1, 0x62, 0], "field 1 appears twice"),
              ([9, 0, 0], "unknown field 9"),
              ([3, 1, 0x81, 0], "the attempt is cut short"),
              ([1, 1, 0x61, 3, 2, 1, 1, 0], "the attempt is not one integer"),
              ([1, 2, 0xC0, 0x80, 3, 1, 1, 0], "the task name is not valid UTF-8"),
              ([1, 1, 0x61, 3, 1, 0, 0], "must be an integer from 1"),
              ([1, 1, 0x61, 3, 11, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0], "out of range"),
          ] as [([UInt8], String)])
    func brokenEnvelope(body: [UInt8], reason: String) {
        let properties = AMQPProperties(correlationID: "run-1.1", replyTo: "r", headers: ["x-trib-wire": .int(2)])
        let message = OutboundMessage(routingKey: "q", properties: properties, body: body)
        guard case .failure(let malformed) = WireFormat.decodeTask(Self.delivery(message), queue: "q") else {
            Issue.record("accepted \(body)")
            return
        }
        #expect(malformed.reason.contains(reason), "\(malformed.reason)")
        #expect(malformed.taskRunID == "run-1.1" && malformed.replyTo == "r", "the rejection can still be answered")
    }

    static func tasks(_ count: Int) -> [TaskMessage] {
        (1...count).map { n in
            TaskMessage(taskRunID: "run-1.\(n)", flowRunID: "run-1", taskName: "inc", queue: "q", attempt: n % 2 + 1,
                        timeout: n == 2 ? .seconds(3) : nil, replyTo: "trib.reply.run-1", persistent: true,
                        reportRunning: n == 2, deliveries: 1, epoch: nil, input: Array("\(n)".utf8))
        }
    }

    @Test("tasks packed into one message (version 3, on the queue's pack queue) come out as the same tasks, in order")
    func taskPack() throws {
        let tasks = Self.tasks(4)
        let pack = WireFormat.packTasks(tasks.map { WireFormat.encode($0, exchange: "trib.tasks") })
        #expect(pack.exchange == "" && pack.routingKey == "trib.pack.q")
        #expect(pack.properties.headers["x-trib-wire"]?.intValue == 3 && pack.properties.replyTo == "trib.reply.run-1")
        let decoded = try WireFormat.decodeTaskPack(Self.delivery(pack), queue: "q").get()
        #expect(try decoded.entries.map { try $0.content.get() } == tasks)
    }

    @Test("a bad task inside a pack is refused alone, with its place in the pack and its task-run id; its neighbours are decoded")
    func badTaskInPack() throws {
        var messages = Self.tasks(3).map { WireFormat.encode($0, exchange: "trib.tasks") }
        messages[1].body = [1, 3, 0x69, 0x6E, 0x63, 3, 1, 0, 0]  // "inc", attempt 0
        let decoded = try WireFormat.decodeTaskPack(Self.delivery(WireFormat.packTasks(messages)), queue: "q").get()
        #expect(try decoded.entries[0].content.get().taskRunID == "run-1.1" && decoded.entries[2].content.get().taskRunID == "run-1.3")
        guard case .failure(let problem) = decoded.entries[1].content else { Issue.record("accepted a bad task"); return }
        #expect(problem.reason.hasPrefix("task 2 of a pack of 3: the attempt"), "\(problem.reason)")
        #expect(problem.taskRunID == "run-1.2" && problem.replyTo == "trib.reply.run-1", "the rejection can be answered")
    }

    @Test("a pack and a single task are each refused by a reader of the other, with the version it reads")
    func packAndSingleVersions() {
        let single = WireFormat.encode(Self.tasks(1)[0], exchange: "trib.tasks")
        let pack = WireFormat.packTasks(Self.tasks(2).map { WireFormat.encode($0, exchange: "trib.tasks") })
        guard case .failure(let asSingle) = WireFormat.decodeTask(Self.delivery(pack), queue: "q"),
              case .failure(let asPack) = WireFormat.decodeTaskPack(Self.delivery(single), queue: "q") else {
            Issue.record("misread a message of the other version")
            return
        }
        #expect(asSingle.reason.contains("unsupported wire version 3"), "\(asSingle.reason)")
        #expect(asPack.reason.contains("unsupported wire version 2"), "\(asPack.reason)")
    }

    @Test("a returned attempt keeps its delivery count")
    func returnedAttempt() throws {
        let returned = ResultMessage(taskRunID: "run-1.7", attempt: 2, status: .returned, workerID: "", body: [], deliveries: 3)
        #expect(try WireFormat.decodeResults(Self.delivery(WireFormat.encode(returned, replyTo: "r"))).first?.get() == returned)
    }
}
